"""Users: accounts, passwords (argon2id), disabling and deleting; each action audited.

An account made without a password is API-only: it can never sign in on the web. Changing
or resetting a password, disabling and deleting end every web session of the user at once;
disabling and deleting also stop the user's tokens (the token look-up checks the user).
"""

from __future__ import annotations

import logging
import os
import secrets

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.audit.service import Actor, record
from app.errors import Conflict, Invalid, NotFound, WrongPassword
from app.models import ApiToken, Role, User
from app.models.base import utcnow
from app.text import clean_name, label_key
from app.users import sessions, tokens
from app.users.lockout import Lockout, checked

MIN_PASSWORD = 8
NAME_LENGTH = 100  # ``users.name``
ROLES = ", ".join(r.value for r in Role)


def create_user(
    session: Session,
    *,
    name: str,
    role: str,
    password: str | None = None,
    actor: Actor | None = None,
) -> tuple[User, str]:
    """Create a user with a first token named ``default``; returns it with the plain token.

    Without ``password`` the account is API-only (see the module docstring).
    """
    name = _clean_name(session, name)
    if role not in {r.value for r in Role}:
        raise Invalid(f"unknown role {role!r}; use one of: {ROLES}")
    user = User(name=name, role=role)
    try:
        with session.begin_nested():  # added inside: a refused row leaves the session usable
            session.add(user)
            session.flush()
    except IntegrityError:
        raise _taken(session, name) from None
    if password is not None:
        _set_hash(user, password)
    _, token = tokens.create_token(session, user, name="default")
    if actor is not None:
        detail = {"role": role, "password": password is not None}
        record(session, actor, "user.create", target=name, detail=detail)
    return user, token


def _taken(session: Session, name: str) -> Conflict:
    """The 409 for a name in use: by a user, or by an account deleted before deletion freed
    its name (``delete_user``)."""
    deleted = session.scalar(select(User.deleted_at).where(User.name == name))
    if deleted is not None:
        return Conflict(f"the name {name!r} belongs to a deleted user; choose another")
    return Conflict(f"a user named {name!r} already exists")


def _clean_name(session: Session, name: str) -> str:
    """NFC, nothing invisible, and no look-alike of another user's name (``Ada`` and
    full-width ``Ａｄａ`` would impersonate ``ada``)."""
    try:
        name = clean_name(name, "user name")
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    key = label_key(name)
    for taken in session.scalars(select(User.name)):
        if taken != name and label_key(taken) == key:
            raise Conflict(f"user name {name!r} looks like the existing user {taken!r}")
    return name


def get_by_name(session: Session, name: str) -> User | None:
    if "\x00" in name:  # no stored name has one (and PostgreSQL refuses it in a query)
        return None
    return session.scalar(select(User).where(User.name == name))


def get_user(session: Session, user_id: int) -> User:
    """A user that has not been deleted (404 otherwise)."""
    user = session.get(User, user_id)
    if user is None or user.deleted_at is not None:
        raise NotFound(f"user {user_id} not found")
    return user


def list_users(session: Session) -> list[User]:
    """Every user not deleted, by name."""
    query = select(User).where(User.deleted_at.is_(None)).order_by(User.name)
    return list(session.scalars(query))


WEAK_HASHES_VARIABLE = "LABELLOOP_TEST_WEAK_PASSWORD_HASHES"


def _password_hasher() -> PasswordHasher:
    """argon2id at argon2-cffi's defaults (RFC 9106's low-memory profile: ~0.2 s and 64 MiB a
    hash), or at its CHEAPEST profile when ``LABELLOOP_TEST_WEAK_PASSWORD_HASHES=1``.

    The weak profile is for the test suite only: it signs in hundreds of users, and each
    sign-in costs a hash and a verification, ~0.35 s of CPU at the real cost. Hashes made
    under either profile verify under the other (the parameters are in the hash).
    """
    if os.environ.get(WEAK_HASHES_VARIABLE) == "1":
        logging.getLogger("labelloop").warning(
            "%s=1: passwords are hashed at argon2's cheapest cost, for tests only",
            WEAK_HASHES_VARIABLE,
        )
        return PasswordHasher.from_parameters(profiles.CHEAPEST)
    return PasswordHasher()


_hasher = _password_hasher()
_DUMMY_HASH = _hasher.hash("not a password of anyone")


def _set_hash(user: User, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"password must have at least {MIN_PASSWORD} characters")
    user.password_hash = _hasher.hash(password)


def check_password(user: User, password: str) -> bool:
    """Whether ``password`` is the user's; always False for an API-only account."""
    try:
        _hasher.verify(user.password_hash or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False
    return user.password_hash is not None


def authenticate(session: Session, name: str, password: str) -> User | None:
    """The active user if ``password`` matches (argon2id), else None.

    The same hashing work is done whether the name exists, has no password or is
    disabled, so the answer's timing tells nothing.
    """
    user = get_by_name(session, name.strip())
    if user is None:
        _hasher.verify(_DUMMY_HASH, _DUMMY_PASSWORD)  # the work a real check costs
        return None
    if not check_password(user, password) or not user.is_active:
        return None
    if user.password_hash and _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


_DUMMY_PASSWORD = "not a password of anyone"


def sign_in_check(
    session: Session, *, username: str, password: str, actor: Actor, lockout: Lockout
) -> User | None:
    """The sign-in's check: :func:`authenticate` under the lockout (429 while locked out;
    a failure counted and audited)."""

    def check() -> User | None:
        return authenticate(session, username, password)

    return checked(session, lockout, check, username=username, actor=actor)


def _recheck(
    session: Session, user: User, password: str, *, actor: Actor, lockout: Lockout, via: str
) -> bool:
    """Whether ``password`` is the signed-in ``user``'s, checked as a sign-in is."""

    def check() -> User | None:
        return user if check_password(user, password) else None

    found = checked(session, lockout, check, username=user.name, actor=actor, via=via)
    return found is not None


def change_password(
    session: Session, user: User, *, current: str, new: str, actor: Actor, lockout: Lockout
) -> None:
    """The user's own change: needs the current password, under the sign-in lockout; ends
    all their web sessions."""
    if not _recheck(session, user, current, actor=actor, lockout=lockout, via="password.change"):
        raise WrongPassword("the current password is wrong")
    _set_hash(user, new)
    sessions.end_all(session, user.id)
    record(session, actor, "password.change", target=user.name)
    session.flush()


def reset_password(
    session: Session, user: User, password: str, *, revoke_tokens: bool, actor: Actor
) -> None:
    """An admin's reset: ends the user's web sessions and, if asked, revokes their tokens."""
    _set_hash(user, password)
    sessions.end_all(session, user.id)
    revoked = tokens.revoke_all(session, user.id) if revoke_tokens else 0
    record(session, actor, "password.reset", target=user.name, detail={"tokens_revoked": revoked})
    session.flush()


def set_disabled(session: Session, user: User, disabled: bool, *, actor: Actor) -> None:
    """Disable (sessions end, tokens stop working) or re-enable an account."""
    if disabled and actor.user is not None and actor.user.id == user.id:
        raise Invalid("you cannot disable your own account")
    user.disabled_at = utcnow() if disabled else None
    if disabled:
        sessions.end_all(session, user.id)
    record(session, actor, "user.disable" if disabled else "user.enable", target=user.name)
    session.flush()


def delete_user(session: Session, user: User, *, actor: Actor) -> None:
    """Delete an account: it can no longer sign in or use tokens, and leaves every list;
    its labels stay, attributed to it (the row is kept, marked deleted). Its name is freed
    for a new account: the row is renamed ``<name> (deleted #<id>)``, so its labels and audit
    events (by id; the events keep the name they were written with) stay its own."""
    if actor.user is not None and actor.user.id == user.id:
        raise Invalid("you cannot delete your own account")
    name = user.name
    user.deleted_at = utcnow()
    user.password_hash = None
    user.name = _retired_name(session, user)
    sessions.end_all(session, user.id)
    tokens.revoke_all(session, user.id)
    record(session, actor, "user.delete", target=name, detail={"renamed": user.name})
    session.flush()


def _retired_name(session: Session, user: User) -> str:
    """``<name> (deleted #<id>)`` within the column's 100 characters; with a random tag as
    well if a user already holds that name (any name can be typed)."""
    suffix = f" (deleted #{user.id})"
    retired = user.name[: NAME_LENGTH - len(suffix)] + suffix
    if session.scalar(select(User.id).where(User.name == retired)) is not None:
        suffix = f" (deleted #{user.id} {secrets.token_hex(4)})"
        retired = user.name[: NAME_LENGTH - len(suffix)] + suffix
    return retired


def set_role(session: Session, user: User, role: str, *, actor: Actor) -> None:
    if role not in {r.value for r in Role}:
        raise Invalid(f"unknown role {role!r}; use one of: {ROLES}")
    if user.role != role:
        record(
            session, actor, "user.role", target=user.name, detail={"from": user.role, "to": role}
        )
        user.role = role
        session.flush()


def mint_token(
    session: Session,
    user: User,
    *,
    name: str,
    expires_days: int | None,
    password: str,
    actor: Actor,
    lockout: Lockout,
) -> tuple[ApiToken, str]:
    """A new named token of the user, who must give their password again, under the sign-in
    lockout (so neither a stolen cookie nor a stolen token can mint more, nor guess it);
    returns it with its plain value."""
    if not _recheck(session, user, password, actor=actor, lockout=lockout, via="token.create"):
        raise WrongPassword("the password is wrong")
    token, value = tokens.create_token(session, user, name=name, expires_days=expires_days)
    record(session, actor, "token.create", target=f"{user.name}/{token.name}")
    return token, value


def revoke_token(session: Session, token: ApiToken, *, actor: Actor) -> None:
    """Revoke a token: it stops working at once."""
    tokens.revoke(session, token)
    record(session, actor, "token.revoke", target=f"user {token.user_id}/{token.name}")
