"""The queue: serve the best-ranked unlabelled items, each leased to one caller until it expires."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, NamedTuple, Protocol

from sqlalchemy import (
    ColumnElement,
    Connection,
    Insert,
    Select,
    and_,
    bindparam,
    exists,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.db import connection
from app.errors import NotFound
from app.models import Annotation, Item, Lease, ModelVersion, Project, RankEntry, User
from app.models.base import utcnow
from app.models.item import UNLABELED

# Concurrent callers all want the best free items, so a round can lose its candidates to a
# lease committed after its query's snapshot (PostgreSQL: the row lock is already released,
# SKIP LOCKED does not skip it); every round takes a fresh snapshot. Five rounds were lost in
# a row once in 12,000 requests of 50 bots on PostgreSQL (an empty answer); twenty are not.
MAX_ACQUIRE_ROUNDS = 20
SETTLED = datetime(9999, 1, 1, tzinfo=UTC)  # the lease of a labelled item never expires


class HasId(Protocol):
    """A project or user, or anything standing for one by its id."""

    @property
    def id(self) -> int: ...


class ItemText(NamedTuple):
    """What the queue shows of an item."""

    id: int
    external_id: str | None
    text: str


@dataclass(frozen=True)
class QueueItem:
    item: ItemText | Item
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


def _lease_free(item_id: Any) -> ColumnElement[bool]:
    """Nobody holds a live lease on the item at ``:now``, and ``:user_id`` has not skipped it."""
    return ~exists().where(
        _leases.c.item_id == item_id,
        (_leases.c.expires_at > bindparam("now"))
        | (_leases.c.skipped & (_leases.c.user_id == bindparam("user_id"))),
    )


# The statements of a queue request are built once: building and keying a statement costs
# several times what SQLite takes to run it (see ``bench/load.py``'s notes in bench/README).
_items, _leases, _ranks = Item.__table__, Lease.__table__, RankEntry.__table__
_projects, _versions = Project.__table__, ModelVersion.__table__

_PUBLISHED = (
    select(_projects.c.id, _versions.c.id, _versions.c.version)
    .select_from(_projects.outerjoin(_versions, _projects.c.current_model_id == _versions.c.id))
    .where(_projects.c.id == bindparam("project_id"))
)
_OWN_LEASES = (
    select(_leases.c.item_id)
    .join(_items, _items.c.id == _leases.c.item_id)
    .where(
        _leases.c.project_id == bindparam("project_id"),
        _leases.c.user_id == bindparam("user_id"),
        _leases.c.expires_at > bindparam("now"),
        _leases.c.expires_at < SETTLED,
        is_unlabeled(_leases.c.item_id),
    )
    .order_by(_items.c.random_key, _items.c.id)
    .limit(bindparam("n"))
)
_RENEW = (
    update(_leases)
    .where(_leases.c.item_id.in_(bindparam("ids", expanding=True)))
    .values(expires_at=bindparam("expires"))
)


def _free_items(item_id: Any, scope: ColumnElement[bool], *order: Any) -> Select[int]:
    """The first ``:n`` item ids of ``scope`` (which excludes labelled items) in ``order``
    that no live lease holds, rows locked."""
    return (
        select(item_id)
        .where(scope, _lease_free(item_id))
        .order_by(*order)
        .limit(bindparam("n"))
        .with_for_update(skip_locked=True, key_share=True, of=item_id.table)
    )


_RANKED = _free_items(
    _ranks.c.item_id,
    and_(_ranks.c.model_version_id == bindparam("version_id"), is_unlabeled(_ranks.c.item_id)),
    _ranks.c.rank,
)
_RANDOM = _free_items(  # the scope matches ix_items_unlabeled_random's (the flag, no probe)
    _items.c.id,
    and_(_items.c.project_id == bindparam("project_id"), UNLABELED),
    _items.c.random_key,
    _items.c.id,
)
_LOAD = (
    select(
        _items.c.id,
        _items.c.external_id,
        _items.c.text,
        _ranks.c.score,
        _ranks.c.prediction,
        _ranks.c.rank,
    )
    .select_from(
        _items.outerjoin(
            _ranks,
            and_(
                _ranks.c.item_id == _items.c.id,
                _ranks.c.model_version_id == bindparam("version_id"),
            ),
        )
    )
    .where(_items.c.id.in_(bindparam("ids", expanding=True)))
)


def next_items(
    session: Session, project: HasId, user: HasId, *, limit: int, lease_seconds: int
) -> QueueBatch:
    """Up to ``limit`` items for ``user``: its own unexpired leases first, then new leases.

    Runs in a write transaction. The published model version is read once, so every
    item of the answer comes from one ranking even if a new one is published meanwhile.
    Raises NotFound if the project does not exist (``project`` may be a bare id holder).
    """
    conn = connection(session)
    now = utcnow()
    expires = now + timedelta(seconds=lease_seconds)
    keys = {"project_id": project.id, "user_id": user.id, "now": now}
    version_id, version = _published(conn, project.id)
    ids = list(conn.scalars(_OWN_LEASES, keys | {"n": limit}))
    if ids:
        conn.execute(_RENEW, {"ids": ids, "expires": expires})
    for _ in range(MAX_ACQUIRE_ROUNDS):
        if len(ids) >= limit:
            break
        candidates = _candidates(conn, keys, version_id, limit - len(ids))
        if not candidates:
            break
        ids += _acquire(conn, keys, candidates, expires)
    return QueueBatch(model_version=version, items=_load(conn, ids, version_id))


def _published(conn: Connection, project_id: int) -> tuple[int | None, int | None]:
    row = conn.execute(_PUBLISHED, {"project_id": project_id}).first()
    if row is None:
        raise NotFound(f"project {project_id} not found")
    _, version_id, version = row
    if version_id is None:
        return None, None
    # A cold-start ranking (version <= 0, see app.training.jobs) is served, but no model exists.
    return version_id, (version if version > 0 else None)


def _candidates(
    conn: Connection, keys: dict[str, Any], version_id: int | None, n: int
) -> list[int]:
    """Free, unlabelled item ids in serving order: the ranking, then the seeded random order.

    On PostgreSQL the candidate rows are locked with ``SKIP LOCKED``, so concurrent callers
    take the next free items instead of all racing for the first one (on SQLite writers are
    serialised by ``BEGIN IMMEDIATE``, and the clause is left out).
    """
    found: list[int] = []
    if version_id is not None:
        found = list(conn.scalars(_RANKED, keys | {"version_id": version_id, "n": n}))
    if len(found) < n:
        taken = set(found)
        rest = conn.scalars(_RANDOM, keys | {"n": n})
        found += [i for i in rest if i not in taken][: n - len(found)]
    return found


def _acquire(
    conn: Connection, keys: dict[str, Any], candidates: list[int], expires: datetime
) -> list[int]:
    """Lease the candidates that are still free; returns the ids actually leased, in order.

    The primary key on ``leases.item_id`` decides races: an insert that meets a live lease
    updates nothing and returns nothing, so no item is ever leased to two callers.
    """
    params = keys | {"expires": expires} | {f"item_id_{k}": i for k, i in enumerate(candidates)}
    won = set(conn.scalars(_upsert(conn, "acquire", len(candidates)), params))
    return [i for i in candidates if i in won]


def _load(conn: Connection, ids: list[int], version_id: int | None) -> list[QueueItem]:
    if not ids:
        return []
    rows = {row.id: row for row in conn.execute(_LOAD, {"ids": ids, "version_id": version_id})}
    out = []
    for i in ids:
        row = rows[i]
        # Cold-start rankings store no prediction ({}): there is no model to guess with.
        out.append(
            QueueItem(
                item=ItemText(row.id, row.external_id, row.text),
                score=row.score,
                prediction=row.prediction or None,
                rank=row.rank,
            )
        )
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
    conn = connection(session)
    conn.execute(
        _upsert(conn, "again"),
        {"item_id": item_id, "project_id": project_id, "user_id": user_id, "expires": expires},
    )


def settle(session: Session, project_id: int, item_ids: Sequence[int], user_id: int) -> None:
    """Turn the items' leases into permanent claims: they have been labelled.

    The row is kept (not deleted) on purpose: a concurrent ``_acquire`` that raced past the
    candidate query then meets this row and, once this transaction commits, finds it
    unexpired, so a labelled item can never be leased again.
    """
    conn = connection(session)
    rows = [
        {"item_id": item_id, "project_id": project_id, "user_id": user_id, "expires": SETTLED}
        for item_id in item_ids
    ]
    conn.execute(_upsert(conn, "settle"), rows)  # one row: a plain execute


def _upsert(conn: Connection, kind: str, rows: int = 1) -> Insert:
    return _upsert_statement(conn.dialect.name, kind, rows)


@cache
def _upsert_statement(dialect: str, kind: str, rows: int) -> Insert:
    """The lease upserts, built once per dialect (and per row count for ``acquire``).

    ``acquire`` takes over only an expired lease, ``again`` and ``settle`` any lease; the
    parameters are ``item_id`` (``item_id_<k>`` for ``acquire``), ``project_id``,
    ``user_id``, ``expires`` and, for ``acquire``, ``now``.
    """
    insert: postgresql.Insert | sqlite.Insert = (
        postgresql if dialect == "postgresql" else sqlite
    ).insert(_leases)
    common: dict[str, Any] = {
        "project_id": bindparam("project_id"),
        "user_id": bindparam("user_id"),
        "expires_at": bindparam("expires"),
    }
    if kind == "acquire":
        values = [{"item_id": bindparam(f"item_id_{k}"), **common} for k in range(rows)]
        # A multi-row VALUES is never in SQLAlchemy's compiled cache: one row is the usual ask.
        stmt = insert.values(values[0] if rows == 1 else values)
        set_ = {
            "user_id": stmt.excluded.user_id,
            "expires_at": stmt.excluded.expires_at,
            "skipped": False,
        }
        return stmt.on_conflict_do_update(
            index_elements=[_leases.c.item_id, _leases.c.slot],
            set_=set_,
            where=_leases.c.expires_at <= bindparam("now"),
        ).returning(_leases.c.item_id)
    stmt = insert.values({"item_id": bindparam("item_id"), **common})
    set_ = {"expires_at": stmt.excluded.expires_at, "user_id": stmt.excluded.user_id}
    if kind == "again":
        set_["skipped"] = False
    return stmt.on_conflict_do_update(index_elements=[_leases.c.item_id, _leases.c.slot], set_=set_)
