"""Browser security: session secret, signed-in user, CSRF tokens and response headers."""

from __future__ import annotations

import hmac
import logging
import os
import secrets
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Settings, secret_key_problem
from app.deps import DatabaseDep
from app.errors import AppError, Forbidden
from app.models import User

log = logging.getLogger("labelloop")

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


def session_secret(settings: Settings) -> str:
    """The configured secret, else one generated once into ``data_dir/secret_key`` (0600).

    Settings refuse a weak configured secret outside development; in development it is
    only logged. The generated file appears whole or not at all (written aside, then
    linked), so web processes starting together agree on one secret.
    """
    if settings.secret_key:
        if problem := secret_key_problem(settings.secret_key):
            log.warning("LABELLOOP_SECRET_KEY %s: acceptable in development only", problem)
        return settings.secret_key
    path: Path = settings.data_dir / "secret_key"
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        aside = path.with_name(f".secret_key.{secrets.token_hex(8)}")
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
        try:
            os.link(aside, path)
        except FileExistsError:
            pass  # another process created it first: use theirs
        finally:
            aside.unlink()
    return path.read_text().strip()


class LoginRequired(AppError):
    status_code = 401


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def check_csrf(request: Request) -> None:
    """Refuse a state-changing request without this session's CSRF token."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    expected = request.session.get("csrf")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not expected or not sent or not hmac.compare_digest(expected, sent):
        raise Forbidden("the form has expired or did not come from this site; reload the page")


def web_user(request: Request, db: DatabaseDep) -> User:
    """The signed-in user (the session cookie), else a redirect to the sign-in page."""
    user_id = request.session.get("user_id")
    if isinstance(user_id, int):
        with db.reader() as session:
            user = session.get(User, user_id)
            if user is not None and request.session.get("pw") == _password_tag(user):
                session.expunge(user)
                return user
    request.session.pop("user_id", None)
    raise LoginRequired("please sign in")


def _password_tag(user: User) -> str:
    """Changes when the password does, which signs out every other session of the user."""
    return (user.password_hash or "")[-16:]


def sign_in(request: Request, user: User) -> None:
    request.session.clear()
    request.session["user_id"] = user.id
    request.session["pw"] = _password_tag(user)
    csrf_token(request)


async def web_admin(user: Annotated[User, Depends(web_user)]) -> User:
    if not user.is_admin:
        raise Forbidden("this page is for admins")
    return user


WebUser = Annotated[User, Depends(web_user)]
WebAdmin = Annotated[User, Depends(web_admin)]


class SecurityHeadersMiddleware:
    """Adds CSP and the usual hardening headers to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, with_headers)
