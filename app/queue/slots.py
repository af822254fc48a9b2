"""Leases by slot: an item asked of several annotators (overlap k) has up to k leases at once.

An item's *occupied* slots are its live leases and its settled ones (a settled lease is a label).
A caller may take a free slot of an item when the occupied ones leave room and none of them is
the caller's own: so an item never has more than k live leases + labels, and never the same
annotator twice. The room is decided under a lock on the item's row (``FOR UPDATE SKIP LOCKED``
on PostgreSQL; SQLite serialises writers), so two callers never count the same free slot.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import cache
from itertools import count
from typing import Any, NamedTuple

from sqlalchemy import (
    Connection,
    Insert,
    Integer,
    Select,
    bindparam,
    cast,
    exists,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from app.models import Adjudication, Annotation, Item, Lease

SETTLED = datetime(9999, 1, 1, tzinfo=UTC)  # the lease of a labelled item never expires
_items, _leases, _annotations = Item.__table__, Lease.__table__, Annotation.__table__
_adjudications = Adjudication.__table__

# Whether an item with ``settled`` labels and ``live`` leases has room for one more caller.
Room = Callable[[int, int], bool]


class Slot(NamedTuple):
    slot: int
    user_id: int
    expires_at: datetime


def up_to(k: int) -> Room:
    """Room while live leases + labels stay below ``k`` (the project's overlap)."""
    return lambda settled, live: settled + live < k


def one_more(settled: int, live: int) -> bool:
    """Room for one extra opinion at a time (a second opinion of a labelled item)."""
    return live == 0


def acquire(
    conn: Connection,
    keys: dict[str, Any],
    candidates: Sequence[int],
    expires: datetime,
    room: Room,
) -> list[int]:
    """Lease each candidate that has room to ``:user_id``, in a free slot; returns those won."""
    if not candidates:
        return []
    now, user_id = keys["now"], keys["user_id"]
    slots = _slots(conn, _lock(conn, candidates, skip_locked=True))
    won = []
    for item_id in candidates:
        if item_id not in slots:
            continue  # another caller holds its row: it is theirs to decide
        occupied = [s for s in slots[item_id] if s.expires_at > now]
        settled = sum(s.expires_at >= SETTLED for s in occupied)
        if any(s.user_id == user_id for s in occupied):
            continue
        if not room(settled, len(occupied) - settled):
            continue
        # The caller's own expired lease is taken back rather than a second slot opened.
        own = [s.slot for s in slots[item_id] if s.user_id == user_id and s.expires_at <= now]
        slot = own[0] if own else _free_slot(occupied)
        params = keys | {"item_id": item_id, "slot": slot, "expires": expires}
        if conn.scalar(_upsert(conn.dialect.name, "acquire"), params) is not None:
            won.append(item_id)
    return won


def claim(
    conn: Connection, project_id: int, item_ids: Sequence[int], user_id: int, expires: datetime
) -> None:
    """Give ``user_id`` a lease of each item until ``expires``, whoever holds the others.

    Settling a label (``expires`` = SETTLED) and leasing an item back after an undo both come
    here. The caller's own row is updated in place (one UPDATE, the usual case); an item
    without one (a late label, or one sent straight through the API) gets a free slot, or a
    slot past the last when every one is taken, so a label never goes without its claim.
    """
    params = {"ids": list(item_ids), "holder": user_id, "expires": expires}
    done = set(conn.scalars(_CLAIM_OWN, params))
    rest = sorted(set(item_ids) - done)
    if not rest:
        return
    slots = _slots(conn, _lock(conn, rest, skip_locked=False))
    now = datetime.now(UTC)
    for item_id in rest:
        occupied = [s for s in slots.get(item_id, []) if s.expires_at > now]
        row: dict[str, Any] = {"item_id": item_id, "slot": _free_slot(occupied)}
        row |= {"project_id": project_id, "user_id": user_id, "expires": expires}
        conn.execute(_upsert(conn.dialect.name, "claim"), row)


def _free_slot(occupied: Sequence[Slot]) -> int:
    taken = {s.slot for s in occupied}
    return next(s for s in count() if s not in taken)


def _lock(conn: Connection, item_ids: Sequence[int], *, skip_locked: bool) -> list[int]:
    """The item ids whose rows this transaction now holds (all of them on SQLite)."""
    if conn.dialect.name != "postgresql":
        return list(item_ids)
    stmt = (
        select(_items.c.id)
        .where(_items.c.id.in_(sorted(item_ids)))
        .order_by(_items.c.id)
        .with_for_update(skip_locked=skip_locked, key_share=False)
    )
    return list(conn.scalars(stmt))


def _slots(conn: Connection, item_ids: Sequence[int]) -> dict[int, list[Slot]]:
    found: dict[int, list[Slot]] = defaultdict(list)
    for row in conn.execute(_SLOTS, {"ids": list(item_ids)}):
        found[row.item_id].append(Slot(row.slot, row.user_id, row.expires_at))
    return {item_id: found.get(item_id, []) for item_id in item_ids}


_SLOTS = select(_leases.c.item_id, _leases.c.slot, _leases.c.user_id, _leases.c.expires_at).where(
    _leases.c.item_id.in_(bindparam("ids", expanding=True))
)
_CLAIM_OWN = (
    update(_leases)
    .where(
        _leases.c.item_id.in_(bindparam("ids", expanding=True)),
        _leases.c.user_id == bindparam("holder"),
    )
    .values(expires_at=bindparam("expires"), skipped=False)
    .returning(_leases.c.item_id)
)


def open_items(scope: Any, item_id: Any, k_param: str = "k") -> Any:
    """SQL predicate: the item's live leases + labels leave room under ``:k`` for a caller
    who holds none of them and has not skipped it (``:now``, ``:user_id``)."""
    occupied = (
        select(func.count())
        .select_from(_leases)
        .where(_leases.c.item_id == item_id, _leases.c.expires_at > bindparam("now"))
        .scalar_subquery()
    )
    mine = (
        select(_leases.c.item_id)
        .where(
            _leases.c.item_id == item_id,
            _leases.c.user_id == bindparam("user_id"),
            (_leases.c.expires_at > bindparam("now")) | _leases.c.skipped,
        )
        .exists()
    )
    return scope & (occupied < bindparam(k_param)) & ~mine


def partial_items() -> Select[Any]:
    """Items of ``:project_id`` with some labels but fewer than ``:k``, none of them the
    caller's or imported, with room for the caller: oldest started first, so consensus
    arrives early instead of many items each waiting for their last label."""
    a = _annotations
    labelled = (
        select(
            a.c.item_id,
            func.count().label("n"),
            func.min(a.c.id).label("first"),
        )
        .where(a.c.project_id == bindparam("project_id"))
        .group_by(a.c.item_id)
        .having(
            (func.count() < bindparam("k"))
            & (func.sum(cast(a.c.user_id == bindparam("user_id"), Integer)) == 0)
            & (func.count(a.c.user_id) == func.count())
        )
        .subquery()
    )
    return (
        select(labelled.c.item_id)
        .where(
            open_items(
                ~exists().where(_adjudications.c.item_id == labelled.c.item_id),
                labelled.c.item_id,
            )
        )
        .order_by(labelled.c.n.desc(), labelled.c.first)
        .limit(bindparam("n"))
    )


@cache
def _upsert(dialect: str, kind: str) -> Insert:
    """Lease one slot: ``acquire`` takes over only an expired lease of the slot, ``claim`` any."""
    insert: postgresql.Insert | sqlite.Insert = (
        postgresql if dialect == "postgresql" else sqlite
    ).insert(_leases)
    stmt = insert.values(
        item_id=bindparam("item_id"),
        slot=bindparam("slot"),
        project_id=bindparam("project_id"),
        user_id=bindparam("user_id"),
        expires_at=bindparam("expires"),
    )
    set_ = {"user_id": stmt.excluded.user_id, "expires_at": stmt.excluded.expires_at}
    target = [_leases.c.item_id, _leases.c.slot]
    if kind == "claim":
        return stmt.on_conflict_do_update(index_elements=target, set_={**set_, "skipped": False})
    return stmt.on_conflict_do_update(
        index_elements=target,
        set_={**set_, "skipped": False},
        where=_leases.c.expires_at <= bindparam("now"),
    ).returning(_leases.c.item_id)
