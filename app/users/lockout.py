"""The sign-in lockout, shared by every password check: signing in, and giving one's password
again to change it or to mint a token, so a stolen token or cookie cannot guess it either."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol

from sqlalchemy.orm import Session

from app.audit.service import Actor, record
from app.errors import TooManyRequests
from app.models import User


class Lockout(Protocol):
    """Failed checks counted per username and address (``app.web.ratelimit.LoginLimiter``)."""

    def retry_after(self, username: str, address: str) -> int: ...

    def failed(self, username: str, address: str) -> None: ...

    def succeeded(self, username: str, address: str) -> None: ...


def checked(
    session: Session,
    lockout: Lockout,
    check: Callable[[], User | None],
    *,
    username: str,
    actor: Actor,
    via: str | None = None,
) -> User | None:
    """``check()``'s user, under the lockout of ``username`` from the actor's address.

    While locked out, ``TooManyRequests`` (429 with ``Retry-After``) without checking. A
    failure (None) is counted and audited as ``signin.failed`` (``via``: the action that
    asked for the password, if not signing in); a success clears the count.
    """
    address = actor.address or "unknown"
    if wait := lockout.retry_after(username, address):
        minutes = math.ceil(wait / 60)
        message = f"Too many failed sign-ins. Try again in {minutes} minute{'s' * (minutes > 1)}."
        raise TooManyRequests(message, retry_after=wait)
    user = check()
    if user is None:
        lockout.failed(username, address)
        detail = {"via": via} if via else None
        record(session, actor, "signin.failed", target=username[:100], detail=detail)
    else:
        lockout.succeeded(username, address)
    return user
