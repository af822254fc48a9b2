"""The queue: serve the best-ranked unlabelled items, each leased to one caller until it expires."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
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
from app.learning.options import STORED_DEFAULTS
from app.models import Annotation, Item, Lease, ModelVersion, Project, RankEntry, User
from app.models.base import utcnow
from app.models.item import UNLABELED
from app.queue import picks, slots
from app.queue.picks import Plan

# Concurrent callers all want the best free items, so a round can lose its candidates to a
# lease committed after its query's snapshot (PostgreSQL: the row lock is already released,
# SKIP LOCKED does not skip it); every round takes a fresh snapshot. Five rounds were lost in
# a row once in 12,000 requests of 50 bots on PostgreSQL (an empty answer); twenty are not.
MAX_ACQUIRE_ROUNDS = 20
SETTLED = slots.SETTLED


class HasId(Protocol):
    """A project or user, or anything standing for one by its id."""

    @property
    def id(self) -> int: ...


class ItemText(NamedTuple):
    """What the queue shows of an item."""

    id: int
    external_id: str | None
    text: str
    fields: dict[str, str] | None = None  # task shapes: every named field
    document_id: int | None = None  # a sentence: its document and place in it
    position: int | None = None
    start_offset: int | None = None
    end_offset: int | None = None


@dataclass(frozen=True)
class QueueItem:
    item: ItemText | Item
    score: float | None
    prediction: dict[str, Any] | None
    rank: int | None = None  # 0-based position in the published ranking
    # In the audit sample (``app.queue.picks``): served because it was drawn at random, even
    # when the ranking also holds it; its label is measured on, never trained on.
    audit: bool = False


@dataclass(frozen=True)
class QueueBatch:
    model_version: int | None
    items: list[QueueItem]


def is_unlabeled(item_id: Any) -> ColumnElement[bool]:
    """SQL predicate: the item has no annotation yet."""
    return ~exists().where(Annotation.item_id == item_id)


def _held() -> ColumnElement[bool]:
    """SQL predicate on a lease row: live at ``:now``, or skipped by ``:user_id``."""
    return (_leases.c.expires_at > bindparam("now")) | (
        _leases.c.skipped & (_leases.c.user_id == bindparam("user_id"))
    )


def _lease_free(item_id: Any) -> ColumnElement[bool]:
    """Nobody holds a live lease on the item at ``:now``, and ``:user_id`` has not skipped it."""
    return ~exists().where(_leases.c.item_id == item_id, _held())


# The statements of a queue request are built once: building and keying a statement costs
# several times what SQLite takes to run it (see ``bench/load.py``'s notes in bench/README).
_items, _leases, _ranks = Item.__table__, Lease.__table__, RankEntry.__table__
_annotations = Annotation.__table__
_projects, _versions = Project.__table__, ModelVersion.__table__

_PUBLISHED = (
    select(
        _projects.c.id,
        _versions.c.id,
        _versions.c.version,
        _projects.c.settings,
        _projects.c.n_labeled,
    )
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
        ~exists().where(
            _annotations.c.item_id == _leases.c.item_id,
            _annotations.c.user_id == bindparam("user_id"),
        ),
        # Others' labels do not end the caller's lease of an item asked of several people
        # (overlap, or an extra slot for a second opinion); with one, they do.
        (bindparam("k") > 1) | (_leases.c.slot > 0) | is_unlabeled(_leases.c.item_id),
    )
    .order_by(_items.c.random_key, _items.c.id)
    .limit(bindparam("n"))
)
_RENEW = (
    update(_leases)
    .where(
        _leases.c.item_id.in_(bindparam("ids", expanding=True)),
        _leases.c.user_id == bindparam("holder"),
    )
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
        _items.c.fields,
        _items.c.document_id,
        _items.c.position,
        _items.c.start_offset,
        _items.c.end_offset,
        _items.c.audit,
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
_HELD = select(_leases.c.item_id).where(
    _leases.c.item_id.in_(bindparam("ids", expanding=True)), _held()
)


def next_items(
    session: Session, project: HasId, user: HasId, *, limit: int, lease_seconds: int
) -> QueueBatch:
    """Up to ``limit`` items for ``user``: its own unexpired leases first, then new leases
    (the audit sample's and second opinions' share first, see ``app.queue.picks``).

    Runs in a write transaction. The published model version is read once, so every
    item of the answer comes from one ranking even if a new one is published meanwhile.
    Raises NotFound if the project does not exist (``project`` may be a bare id holder).
    """
    conn = connection(session)
    now = utcnow()
    expires = now + timedelta(seconds=lease_seconds)
    keys = {"project_id": project.id, "user_id": user.id, "now": now}
    plan, version = _plan(conn, project.id)
    ids = list(conn.scalars(_OWN_LEASES, keys | {"n": limit, "k": plan.overlap}))
    if ids:
        conn.execute(_RENEW, {"ids": ids, "expires": expires, "holder": user.id})
    if len(ids) < limit:
        ids += picks.extra_picks(conn, keys, plan, limit - len(ids), expires)
    for _ in range(MAX_ACQUIRE_ROUNDS):
        if len(ids) >= limit:
            break
        won = _new_leases(conn, keys, plan, limit - len(ids), expires, exclude=set(ids))
        if won is None:
            break
        ids += won
    return QueueBatch(model_version=version, items=_load(conn, ids, plan.version_id))


def _new_leases(
    conn: Connection,
    keys: dict[str, Any],
    plan: Plan,
    n: int,
    expires: datetime,
    exclude: set[int],
) -> list[int] | None:
    """One round of leasing up to ``n`` new items; None when no candidate is left."""
    if plan.overlap == 1:
        candidates = [i for i in _candidates(conn, keys, plan.version_id, n) if i not in exclude]
        return _acquire(conn, keys, candidates, expires) if candidates else None
    found = picks.overlap_candidates(conn, keys, plan, n + len(exclude))
    candidates = [i for i in found if i not in exclude][:n]
    if not candidates:
        return None
    return slots.acquire(conn, keys, candidates, expires, slots.up_to(plan.overlap))


def _plan(conn: Connection, project_id: int) -> tuple[Plan, int | None]:
    """The project's serving plan and its published model version (None before a model)."""
    row = conn.execute(_PUBLISHED, {"project_id": project_id}).first()
    if row is None:
        raise NotFound(f"project {project_id} not found")
    _, version_id, version, settings, n_labeled = row
    stored = {**STORED_DEFAULTS, **(settings or {})}
    plan = Plan(
        version_id=version_id,
        overlap=int(stored["overlap"]),
        audit_share=float(stored["audit_share"]),
        recheck_share=float(stored["recheck_share"]),
        n_labeled=n_labeled,
    )
    # A cold-start ranking (version <= 0, see app.training.jobs) is served, but no model exists.
    return plan, (version if version_id is not None and version > 0 else None)


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

    On PostgreSQL the candidates are first checked again in a fresh snapshot. The candidate
    query locked their rows, but its snapshot may predate another caller's lease of one of
    them (committed after the snapshot, so SKIP LOCKED did not skip it). The insert would
    then wait on that lease's row while its holder labels the item, and the holder's label
    waits on the item row this transaction locked: a deadlock. Dropping the items leased
    meanwhile (they are lost to this round anyway) leaves the insert nothing to wait for.
    """
    if conn.dialect.name == "postgresql":
        held = set(conn.scalars(_HELD, keys | {"ids": candidates}))
        candidates = [i for i in candidates if i not in held]
        if not candidates:
            return []
    params = keys | {"expires": expires} | {f"item_id_{k}": i for k, i in enumerate(candidates)}
    won = set(conn.scalars(_upsert(conn, len(candidates)), params))
    return [i for i in candidates if i in won]


def _load(conn: Connection, ids: list[int], version_id: int | None) -> list[QueueItem]:
    if not ids:
        return []
    rows = {row.id: row for row in conn.execute(_LOAD, {"ids": ids, "version_id": version_id})}
    out = []
    for i in ids:
        row = rows[i]
        # Cold-start rankings store no prediction ({}); an audit item is labelled blind.
        out.append(
            QueueItem(
                item=ItemText(
                    row.id,
                    row.external_id,
                    row.text,
                    row.fields,
                    row.document_id,
                    row.position,
                    row.start_offset,
                    row.end_offset,
                ),
                score=row.score,
                prediction=None if row.audit else row.prediction or None,
                rank=row.rank,
                audit=bool(row.audit),
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
    slots.claim(connection(session), project_id, [item_id], user_id, expires)


def settle(session: Session, project_id: int, item_ids: Sequence[int], user_id: int) -> None:
    """Turn the caller's leases of the items into permanent claims: they have been labelled.

    The row is kept (not deleted) on purpose: a concurrent ``_acquire`` that raced past the
    candidate query then meets this row and, once this transaction commits, finds it
    unexpired, so a labelled item can never be leased again beyond its overlap.
    """
    slots.claim(connection(session), project_id, item_ids, user_id, SETTLED)


def _upsert(conn: Connection, rows: int) -> Insert:
    return _upsert_statement(conn.dialect.name, rows)


@cache
def _upsert_statement(dialect: str, rows: int) -> Insert:
    """The k = 1 lease of ``rows`` items (slot 0), built once per dialect and row count.

    It takes over only an expired lease; the parameters are ``item_id_<k>``, ``project_id``,
    ``user_id``, ``expires`` and ``now``.
    """
    insert: postgresql.Insert | sqlite.Insert = (
        postgresql if dialect == "postgresql" else sqlite
    ).insert(_leases)
    common: dict[str, Any] = {
        "project_id": bindparam("project_id"),
        "user_id": bindparam("user_id"),
        "expires_at": bindparam("expires"),
    }
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
