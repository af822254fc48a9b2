"""Users and API tokens: tokens are random, shown once, and stored as SHA-256 digests."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, make_transient_to_detached

from app.errors import Conflict, Invalid
from app.models import Role, User

TOKEN_PREFIX = "ll_"


def hash_token(token: str) -> str:
    """Digest of a token; tokens carry 256 bits of randomness, so a fast hash is enough."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def create_user(
    session: Session, *, name: str, role: str, password: str | None = None
) -> tuple[User, str]:
    """Create a user; returns it with its plain token (the only time the token is seen)."""
    name = name.strip()
    if not name:
        raise Invalid("user name must not be empty")
    if "\x00" in name:
        raise Invalid("user name must not contain a NUL character")
    if role not in {r.value for r in Role}:
        raise Invalid(f"unknown role {role!r}; use one of: admin, annotator")
    token = new_token()
    user = User(name=name, role=role, token_hash=hash_token(token))
    session.add(user)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(f"a user named {name!r} already exists") from None
    if password is not None:
        set_password(session, user, password)
    return user, token


def regenerate_token(session: Session, user: User) -> str:
    token = new_token()
    user.token_hash = hash_token(token)
    session.flush()
    return token


_users = User.__table__
# Every API request runs this: built once, read as a plain row (see app.queue.service).
_BY_TOKEN = select(*_users.c).where(_users.c.token_hash == bindparam("token_hash"))


def user_for_token(conn: Connection, token: str) -> User | None:
    """The token's user, detached from any session (its attributes are all loaded)."""
    row = conn.execute(_BY_TOKEN, {"token_hash": hash_token(token)}).first()
    if row is None:
        return None
    user = User(**row._asdict())
    make_transient_to_detached(user)
    return user


def get_by_name(session: Session, name: str) -> User | None:
    if "\x00" in name:  # no stored name has one (and PostgreSQL refuses it in a query)
        return None
    return session.scalar(select(User).where(User.name == name))


_hasher = PasswordHasher()
MIN_PASSWORD = 8


def set_password(session: Session, user: User, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"password must have at least {MIN_PASSWORD} characters")
    user.password_hash = _hasher.hash(password)
    session.flush()


def authenticate(session: Session, name: str, password: str) -> User | None:
    """The user if ``password`` matches (argon2id), else None; same work either way."""
    user = get_by_name(session, name.strip())
    stored = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is not None and _hasher.check_needs_rehash(stored):
        user.password_hash = _hasher.hash(password)
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.name)))


_DUMMY_HASH = _hasher.hash("not a password of anyone")
