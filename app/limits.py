"""Request body limits, enforced while the body streams in (413 before reading it all)."""

from __future__ import annotations

import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UPLOAD_SUFFIXES = ("/imports", "/import/preview")
# Routes that anyone may call (no identity to check first): their forms are a few fields.
ANONYMOUS_PATHS = ("/login", "/logout")
ANONYMOUS_LIMIT = 16 * 1024


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body is over the limit of {limit} bytes")


class BodyLimitMiddleware:
    """Refuse bodies over a limit: by Content-Length up front, else by counting the stream.

    Upload routes (paths ending in one of ``UPLOAD_SUFFIXES``) get ``upload_limit``; the
    sign-in and sign-out forms, which anyone may post, ``ANONYMOUS_LIMIT``; all others
    ``default_limit`` (their callers are identified before their bodies are read:
    ``app.routing``).
    """

    def __init__(self, app: ASGIApp, *, default_limit: int, upload_limit: int) -> None:
        self.app = app
        self.default_limit = default_limit
        self.upload_limit = upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        limit = self._limit(path.rstrip("/"))
        length = _content_length(scope)
        if length is not None and length > limit:
            await _reject(send, limit)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _reject(send, limit)

    def _limit(self, path: str) -> int:
        if path in ANONYMOUS_PATHS:
            return ANONYMOUS_LIMIT
        return self.upload_limit if path.endswith(UPLOAD_SUFFIXES) else self.default_limit


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _reject(send: Send, limit: int) -> None:
    body: dict[str, Any] = {"detail": BodyTooLarge(limit).detail}
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
