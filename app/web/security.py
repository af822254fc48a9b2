"""Browser security: session secret, signed-in user, CSRF tokens and response headers."""

from __future__ import annotations

import hmac
import logging
import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import anyio
from fastapi import Depends, Request
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Settings, secret_key_problem
from app.db import Database
from app.errors import AppError, Forbidden
from app.models import User
from app.routing import pre_body
from app.users import sessions

log = logging.getLogger("labelloop")

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
CSP_HEADER = b"content-security-policy"
CSP_TEMPLATE = (
    "default-src 'self'; script-src 'self'; style-src {style}; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
CSP = CSP_TEMPLATE.format(style="'self'")
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
HSTS_HEADER = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


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


def lifetimes(settings: Settings) -> sessions.Lifetimes:
    return sessions.Lifetimes(
        idle=timedelta(minutes=settings.session_idle_minutes),
        absolute=timedelta(days=settings.session_days),
    )


def _resume(db: Database, settings: Settings, key: object) -> sessions.Resumed:
    """The cookie's session, else ``LoginRequired``."""
    if isinstance(key, str):
        with db.reader() as session:
            resumed = sessions.resume(session, key, lifetimes(settings))
        if resumed is not None:
            return resumed
    raise LoginRequired("please sign in")


def _touch(db: Database, session_id: int) -> None:
    with db.writer() as session, session.begin():
        sessions.touch(session, session_id)


async def _identify(request: Request) -> None:
    """Pre-body check of every signed-in page: resolve the session's user once, and record
    activity (at most once a minute, in one of the process's write slots: ``app.deps``)."""
    if getattr(request.state, "user", None) is not None:
        return
    key = request.session.get("sid")
    db, settings = request.app.state.db, request.app.state.settings
    try:
        resumed = await anyio.to_thread.run_sync(_resume, db, settings, key)
    except LoginRequired:
        request.session.clear()
        raise
    if resumed.stale:
        async with request.app.state.write_slots:
            await anyio.to_thread.run_sync(_touch, db, resumed.session_id)
    request.state.user = resumed.user


async def _identify_admin(request: Request) -> None:
    await _identify(request)
    if not request.state.user.is_admin:
        raise Forbidden("this page is for admins")


@pre_body(_identify)
def web_user(request: Request) -> User:
    """The signed-in user (the session cookie), else a redirect to the sign-in page.

    Resolved before the body is read (``app.routing``); this returns what was found.
    """
    user = getattr(request.state, "user", None)
    if user is None:  # only outside a GuardedRoute
        settings = request.app.state.settings
        user = _resume(request.app.state.db, settings, request.session.get("sid")).user
        request.state.user = user
    return user


def sign_in(request: Request, session: Session, user: User) -> None:
    """Start a server-side session for ``user`` (a fresh cookie: no session fixation)."""
    settings: Settings = request.app.state.settings
    sessions.forget_expired(session, user.id, lifetimes(settings))
    key = sessions.start(session, user, address=client_address(request))
    request.session.clear()
    request.session["sid"] = key
    csrf_token(request)


def sign_out(request: Request, session: Session) -> User | None:
    """End this browser's session on the server, and forget the cookie; returns its user."""
    key = request.session.get("sid")
    user_id = sessions.end(session, key) if isinstance(key, str) else None
    request.session.clear()
    return session.get(User, user_id) if user_id is not None else None


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def signed_in_user(request: Request) -> User | None:
    """The user signed in on this browser, else None, for pages anyone may be shown (an error
    page keeps a signed-in user's navigation); never raises for a missing or ended session,
    nor for a database that does not answer (the page then shows without the navigation)."""
    user: User | None = getattr(request.state, "user", None)
    key = request.session.get("sid") if "session" in request.scope else None
    if user is not None or not isinstance(key, str):
        return user
    db, settings = request.app.state.db, request.app.state.settings
    try:
        return (await anyio.to_thread.run_sync(_resume, db, settings, key)).user
    except (LoginRequired, SQLAlchemyError):
        return None


@pre_body(_identify_admin)
async def web_admin(user: Annotated[User, Depends(web_user)]) -> User:
    if not user.is_admin:
        raise Forbidden("this page is for admins")
    return user


WebUser = Annotated[User, Depends(web_user)]
WebAdmin = Annotated[User, Depends(web_admin)]


def csp_with_style_nonce(nonce: str, hashes: tuple[str, ...] = ()) -> str:
    """The site's CSP, except that ``<style>`` elements carrying ``nonce`` (or whose text has
    one of the sha256 ``hashes``) apply: for a page whose vendored library injects its styles
    (ReDoc); scripts stay ``'self'`` only."""
    sources = " ".join([f"'nonce-{nonce}'", *(f"'sha256-{h}'" for h in hashes)])
    return CSP_TEMPLATE.format(style=f"'self' {sources}")


class SecurityHeadersMiddleware:
    """Adds CSP and the usual hardening headers to every response.

    A response that sets its own CSP (built by ``csp_with_style_nonce``) keeps it; every
    other response gets ``CSP``.

    With ``hsts`` (the site is public over HTTPS) browsers are also told to use only HTTPS
    for a year, so a later plain-HTTP link cannot expose the session cookie.
    """

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.headers = SECURITY_HEADERS + ([HSTS_HEADER] if hsts else [])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == CSP_HEADER for name, _ in headers):
                    headers.append((CSP_HEADER, CSP.encode()))
                message["headers"] = headers + self.headers
            await send(message)

        await self.app(scope, receive, with_headers)
