"""The queue: serve the best-ranked unlabelled items, each leased to one caller until it expires."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.models import Annotation, Item, Lease, ModelVersion, Project, RankEntry, User
from app.models.base import utcnow

# Concurrent callers all want the best free items, so a round can lose its candidates to a
# lease committed after its query's snapshot (PostgreSQL: the row lock is already released,
# SKIP LOCKED does not skip it); every round takes a fresh snapshot. Five rounds were lost in
# a row once in 12,000 requests of 50 bots on PostgreSQL (an empty answer); twenty are not.
MAX_ACQUIRE_ROUNDS = 20
SETTLED = datetime(9999, 1, 1, tzinfo=UTC)  # the lease of a labelled item never expires


@dataclass(frozen=True)
class QueueItem:
    item: Item
    score: float | None
    prediction: dict[str, Any] | None
    rank: int | None = None  # 0-based position in the published ranking


@dataclass(frozen=True)
class QueueBatch:
    model_version: int | None
    items: list[QueueItem]


def is_unlabeled(item_id: Any) -> ColumnElement[bool]:
    """SQL predicate: the item has no annotation yet."""
    return ~exists().where(Annotation.item_id == item_id)


def _lease_free(item_id: Any, now: datetime, user: User) -> ColumnElement[bool]:
    """Nobody holds a live lease on the item, and ``user`` has not skipped it."""
    return ~exists().where(
        Lease.item_id == item_id,
        (Lease.expires_at > now) | (Lease.skipped & (Lease.user_id == user.id)),
    )


def next_items(
    session: Session, project: Project, user: User, *, limit: int, lease_seconds: int
) -> QueueBatch:
    """Up to ``limit`` items for ``user``: its own unexpired leases first, then new leases.

    Runs in a write transaction. The published model version is read once, so every
    item of the answer comes from one ranking even if a new one is published meanwhile.
    """
    now = utcnow()
    expires = now + timedelta(seconds=lease_seconds)
    version_id, version = _published(session, project.id)
    ids = _own_leases(session, project, user, now, limit)
    if ids:
        session.execute(update(Lease).where(Lease.item_id.in_(ids)).values(expires_at=expires))
    for _ in range(MAX_ACQUIRE_ROUNDS):
        if len(ids) >= limit:
            break
        candidates = _candidates(session, project, user, version_id, now, limit - len(ids))
        if not candidates:
            break
        ids += _acquire(session, project, user, candidates, now, expires)
    return QueueBatch(model_version=version, items=_load(session, ids, version_id))


def _published(session: Session, project_id: int) -> tuple[int | None, int | None]:
    row = session.execute(
        select(ModelVersion.id, ModelVersion.version)
        .join(Project, Project.current_model_id == ModelVersion.id)
        .where(Project.id == project_id)
    ).first()
    if not row:
        return None, None
    # A cold-start ranking (version <= 0, see app.training.jobs) is served, but no model exists.
    return row[0], (row[1] if row[1] > 0 else None)


def _own_leases(
    session: Session, project: Project, user: User, now: datetime, limit: int
) -> list[int]:
    stmt = (
        select(Lease.item_id)
        .join(Item, Item.id == Lease.item_id)
        .where(
            Lease.project_id == project.id,
            Lease.user_id == user.id,
            Lease.expires_at > now,
            Lease.expires_at < SETTLED,
            is_unlabeled(Lease.item_id),
        )
        .order_by(Item.random_key, Item.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def _candidates(
    session: Session, project: Project, user: User, version_id: int | None, now: datetime, n: int
) -> list[int]:
    """Free, unlabelled item ids in serving order: the ranking, then the seeded random order.

    On PostgreSQL the candidate rows are locked with ``SKIP LOCKED``, so concurrent callers
    take the next free items instead of all racing for the first one (on SQLite writers are
    serialised by ``BEGIN IMMEDIATE``, and the clause is left out).
    """
    found: list[int] = []
    if version_id is not None:
        ranked = (
            select(RankEntry.item_id)
            .where(
                RankEntry.model_version_id == version_id,
                is_unlabeled(RankEntry.item_id),
                _lease_free(RankEntry.item_id, now, user),
            )
            .order_by(RankEntry.rank)
            .limit(n)
            .with_for_update(skip_locked=True, key_share=True, of=RankEntry)
        )
        found = list(session.scalars(ranked))
    if len(found) < n:
        taken = set(found)
        rest = (
            select(Item.id)
            .where(
                Item.project_id == project.id,
                is_unlabeled(Item.id),
                _lease_free(Item.id, now, user),
            )
            .order_by(Item.random_key, Item.id)
            .limit(n)
            .with_for_update(skip_locked=True, key_share=True, of=Item)
        )
        found += [i for i in session.scalars(rest) if i not in taken][: n - len(found)]
    return found


def _acquire(
    session: Session,
    project: Project,
    user: User,
    candidates: list[int],
    now: datetime,
    expires: datetime,
) -> list[int]:
    """Lease the candidates that are still free; returns the ids actually leased, in order.

    The primary key on ``leases.item_id`` decides races: an insert that meets a live lease
    updates nothing and returns nothing, so no item is ever leased to two callers.
    """
    stmt = _insert(session).values(
        [
            {"item_id": i, "project_id": project.id, "user_id": user.id, "expires_at": expires}
            for i in candidates
        ]
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[Lease.item_id],
        set_={
            "user_id": stmt.excluded.user_id,
            "expires_at": stmt.excluded.expires_at,
            "skipped": False,
        },
        where=and_(Lease.expires_at <= now),
    ).returning(Lease.item_id)
    won = set(session.scalars(stmt))
    return [i for i in candidates if i in won]


def _load(session: Session, ids: list[int], version_id: int | None) -> list[QueueItem]:
    if not ids:
        return []
    items = {i.id: i for i in session.scalars(select(Item).where(Item.id.in_(ids)))}
    ranked: dict[int, tuple[float, dict[str, Any], int]] = {}
    if version_id is not None:
        rows = session.execute(
            select(RankEntry.item_id, RankEntry.score, RankEntry.prediction, RankEntry.rank).where(
                RankEntry.model_version_id == version_id, RankEntry.item_id.in_(ids)
            )
        )
        ranked = {item_id: (score, pred, rank) for item_id, score, pred, rank in rows}
    out = []
    for i in ids:
        score, prediction, rank = ranked.get(i, (None, None, None))
        # Cold-start rankings store no prediction ({}): there is no model to guess with.
        out.append(QueueItem(item=items[i], score=score, prediction=prediction or None, rank=rank))
    return out


def skip(session: Session, project: Project, user: User, item_id: int) -> None:
    """Pass on a leased item: free it for others and never serve it to ``user`` again."""
    session.execute(
        update(Lease)
        .where(
            Lease.item_id == item_id,
            Lease.project_id == project.id,
            Lease.user_id == user.id,
            Lease.expires_at < SETTLED,
        )
        .values(expires_at=utcnow(), skipped=True)
    )


def lease_again(
    session: Session, project_id: int, item_id: int, user_id: int, lease_seconds: int
) -> None:
    """Lease an item to ``user_id`` again (undo of a label), whatever its lease said."""
    expires = utcnow() + timedelta(seconds=lease_seconds)
    stmt = _insert(session).values(
        item_id=item_id, project_id=project_id, user_id=user_id, expires_at=expires
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[Lease.item_id],
            set_={"expires_at": expires, "user_id": user_id, "skipped": False},
        )
    )


def settle(session: Session, project_id: int, item_id: int, user_id: int) -> None:
    """Turn the item's lease into a permanent claim: it has been labelled.

    The row is kept (not deleted) on purpose: a concurrent ``_acquire`` that raced past the
    candidate query then meets this row and, once this transaction commits, finds it
    unexpired, so a labelled item can never be leased again.
    """
    stmt = _insert(session).values(
        item_id=item_id, project_id=project_id, user_id=user_id, expires_at=SETTLED
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[Lease.item_id], set_={"expires_at": SETTLED, "user_id": user_id}
        )
    )


def _insert(session: Session) -> Any:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(Lease)
