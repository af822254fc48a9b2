"""Idempotency keys: a retried request with the same key gets the first response, not a new write.

A key belongs to one user. The first request claims it by inserting its row in the same
transaction as the write it guards, so a concurrent retry waits for that transaction (the
primary key) and then replays what it stored; if the write fails, the claim rolls back
with it and the key stays free. Keys are forgotten after ``RETENTION``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.errors import Conflict, Invalid
from app.models import IdempotencyKey
from app.models.base import utcnow

RETENTION = timedelta(hours=24)
HEADER = "Idempotency-Key"


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: dict[str, Any]


def fingerprint(method: str, path: str, body: dict[str, Any]) -> str:
    """sha256 of a request: what a key is bound to (key order in the body does not matter)."""
    canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def claim(session: Session, user_id: int, key: str, request_hash: str) -> StoredResponse | None:
    """Claim ``key`` for this request; None to go ahead, or the stored response to replay.

    Raises Invalid (422) when the key was used with another request, Conflict (409) in the
    unlikely case that the stored row has no response yet.
    """
    session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.user_id == user_id, IdempotencyKey.created_at < utcnow() - RETENTION
        )
    )
    existing = _find(session, user_id, key)
    if existing is None:
        row = IdempotencyKey(user_id=user_id, key=key, request_hash=request_hash)
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
            return None
        except IntegrityError:  # a concurrent request with this key committed first
            existing = _find(session, user_id, key)
            if existing is None:
                raise
    return _replay(existing, key, request_hash)


def record(
    session: Session, user_id: int, key: str, status_code: int, body: dict[str, Any]
) -> None:
    """Store the response of the request that claimed ``key`` (same transaction as its write)."""
    row = session.get_one(IdempotencyKey, (user_id, key))
    row.status_code = status_code
    row.response = body
    session.flush()


def _find(session: Session, user_id: int, key: str) -> IdempotencyKey | None:
    return session.scalar(
        select(IdempotencyKey)
        .where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
        .execution_options(populate_existing=True)
    )


def _replay(row: IdempotencyKey, key: str, request_hash: str) -> StoredResponse:
    if row.request_hash != request_hash:
        raise Invalid(
            f"{HEADER} {key!r} was already used with a different request; "
            "use a new key for a new request"
        )
    if row.status_code is None or row.response is None:
        raise Conflict(f"a request with {HEADER} {key!r} is still being processed")
    return StoredResponse(status_code=row.status_code, body=row.response)
