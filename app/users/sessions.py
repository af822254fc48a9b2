"""Browser sessions kept on the server: a session ends when its row is deleted.

The cookie holds a random key (signed by the session middleware); the row holds its digest,
the user, and when it started and was last seen. A session is valid while its row exists,
its user is active, it is younger than the absolute lifetime and was seen within the idle
timeout. Sign-out deletes the row; a password change, a reset and disabling or deleting a
user delete all of the user's rows, so a copied cookie stops working at once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session, make_transient_to_detached

from app.models import User, WebSession
from app.models.base import utcnow
from app.users.tokens import hash_token

LAST_SEEN_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class Lifetimes:
    """How long a session lasts: since its last request (idle) and since sign-in (absolute)."""

    idle: timedelta
    absolute: timedelta


def start(session: Session, user: User, *, address: str | None) -> str:
    """A new session of ``user``; returns the key for the cookie."""
    key = secrets.token_urlsafe(32)
    session.add(WebSession(key_hash=hash_token(key), user_id=user.id, address=address))
    session.flush()
    return key


def end(session: Session, key: str) -> int | None:
    """End one session; returns its user's id (None if it had already ended)."""
    query = delete(WebSession).where(WebSession.key_hash == hash_token(key))
    return session.scalar(query.returning(WebSession.user_id))


def end_all(session: Session, user_id: int) -> None:
    """Sign the user out everywhere."""
    session.execute(delete(WebSession).where(WebSession.user_id == user_id))


_users = User.__table__
_sessions = WebSession.__table__
_BY_KEY = (
    select(
        _sessions.c.id.label("session_id"),
        _sessions.c.created_at.label("session_created_at"),
        _sessions.c.last_seen_at,
        *_users.c,
    )
    .join(_users, _users.c.id == _sessions.c.user_id)
    .where(_sessions.c.key_hash == bindparam("key_hash"))
)
_TOUCH = (
    update(_sessions)
    .where(_sessions.c.id == bindparam("sid"))
    .values(last_seen_at=bindparam("now"))
)


@dataclass(frozen=True)
class Resumed:
    """A valid session: its user (detached) and whether ``last_seen_at`` is due a write."""

    user: User
    session_id: int
    stale: bool


def resume(session: Session, key: str, lifetimes: Lifetimes) -> Resumed | None:
    """The session if it is still valid, else None; reads only (see :func:`touch`)."""
    now = utcnow()
    row = session.execute(_BY_KEY, {"key_hash": hash_token(key)}).first()
    if row is None:
        return None
    values = row._asdict()
    sid = values.pop("session_id")
    started, seen = values.pop("session_created_at"), values.pop("last_seen_at")
    if _expired(now, started, seen, lifetimes) or values["disabled_at"] or values["deleted_at"]:
        return None
    user = User(**values)
    make_transient_to_detached(user)
    return Resumed(user, sid, stale=now - seen >= LAST_SEEN_RESOLUTION)


def touch(session: Session, session_id: int) -> None:
    """Record activity (at most once a minute: see ``Resumed.stale``), for the idle timeout."""
    session.execute(_TOUCH, {"sid": session_id, "now": utcnow()})


def _expired(now: datetime, started: datetime, seen: datetime, lifetimes: Lifetimes) -> bool:
    return now - started >= lifetimes.absolute or now - seen >= lifetimes.idle


def forget_expired(session: Session, user_id: int, lifetimes: Lifetimes) -> None:
    """Delete the user's sessions that can no longer be resumed (run at sign-in)."""
    now = utcnow()
    session.execute(
        delete(WebSession).where(
            WebSession.user_id == user_id,
            (WebSession.created_at <= now - lifetimes.absolute)
            | (WebSession.last_seen_at <= now - lifetimes.idle),
        )
    )
