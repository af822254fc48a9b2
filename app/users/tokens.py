"""Named API tokens: random, shown once, stored as SHA-256 digests; optional expiry.

A token works while it exists, has not expired and its user is active (not disabled or
deleted); revoking deletes it. ``last_used_at`` is written at most once a minute per token,
so the look-up that every API request runs stays a read.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session, make_transient_to_detached

from app.errors import Invalid, NotFound
from app.lookups import Lookup
from app.models import ApiToken, User
from app.models.base import utcnow

TOKEN_PREFIX = "ll_"
MAX_EXPIRY_DAYS = 3650
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_token(token: str) -> str:
    """Digest of a token; tokens carry 256 bits of randomness, so a fast hash is enough."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def create_token(
    session: Session, user: User, *, name: str, expires_days: int | None = None
) -> tuple[ApiToken, str]:
    """A new token of ``user``; returns the row and the plain token (its only showing)."""
    name = name.strip()
    if not name or len(name) > 100:
        raise Invalid("token name must have 1 to 100 characters")
    if expires_days is not None and not 1 <= expires_days <= MAX_EXPIRY_DAYS:
        raise Invalid(f"expires_days must be between 1 and {MAX_EXPIRY_DAYS}")
    plain = new_token()
    expires = utcnow() + timedelta(days=expires_days) if expires_days else None
    token = ApiToken(user_id=user.id, name=name, token_hash=hash_token(plain), expires_at=expires)
    session.add(token)
    session.flush()
    return token, plain


def list_tokens(session: Session, user_id: int) -> list[ApiToken]:
    """The user's tokens, newest first (digests are never shown)."""
    query = select(ApiToken).where(ApiToken.user_id == user_id)
    return list(session.scalars(query.order_by(ApiToken.id.desc())))


def get_token(session: Session, token_id: int, *, owner: User) -> ApiToken:
    """``owner``'s token; an admin may name anyone's. Another user's token is a 404."""
    token = session.get(ApiToken, token_id)
    if token is None or (token.user_id != owner.id and not owner.is_admin):
        raise NotFound(f"token {token_id} not found")
    return token


def revoke(session: Session, token: ApiToken) -> None:
    session.delete(token)
    session.flush()


def revoke_all(session: Session, user_id: int) -> int:
    """Delete every token of the user; returns how many there were."""
    tokens = list_tokens(session, user_id)
    for token in tokens:
        session.delete(token)
    session.flush()
    return len(tokens)


@dataclass(frozen=True)
class TokenUse:
    """A valid token's user (detached, attributes loaded) and the token's id."""

    user: User
    token_id: int


_users = User.__table__
_tokens = ApiToken.__table__
# Every API request runs this: built once, read as a plain row (see app.queue.service).
_BY_TOKEN = (
    select(_tokens.c.id.label("token_id"), _tokens.c.last_used_at, *_users.c)
    .join(_users, _users.c.id == _tokens.c.user_id)
    .where(
        _tokens.c.token_hash == bindparam("token_hash"),
        or_(_tokens.c.expires_at.is_(None), _tokens.c.expires_at > bindparam("now")),
        _users.c.disabled_at.is_(None),
        _users.c.deleted_at.is_(None),
    )
)
_TOUCH = (
    update(_tokens)
    .where(
        _tokens.c.id == bindparam("token_id"),
        or_(_tokens.c.last_used_at.is_(None), _tokens.c.last_used_at < bindparam("stale")),
    )
    .values(last_used_at=bindparam("now"))
)


def use_token(lookup: Lookup, token: str) -> TokenUse | None:
    """The token's user if the token is valid now, else None; records its use."""
    now = utcnow()
    values = lookup.first(_BY_TOKEN, {"token_hash": hash_token(token), "now": now})
    if values is None:
        return None
    token_id, last_used = values.pop("token_id"), values.pop("last_used_at")
    if last_used is None or now - last_used >= LAST_USED_RESOLUTION:
        _touch(lookup, token_id, now)
    user = User(**values)
    make_transient_to_detached(user)
    return TokenUse(user, token_id)


def _touch(lookup: Lookup, token_id: int, now: datetime) -> None:
    """Record the use; skipped (not failed) when the database is busy writing.

    On SQLite this never waits, which matters since the look-up runs on the event loop
    there (``app.routing``): the update upgrades the read transaction of the look-up, and
    SQLite refuses such an upgrade at once, without its busy handler, while another
    connection writes.
    """
    stale = now - LAST_USED_RESOLUTION
    lookup.try_write(_TOUCH, {"token_id": token_id, "now": now, "stale": stale})
