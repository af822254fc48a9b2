"""Where a project's new leases come from besides the ranking: overlap, audit and second opinions.

* **Overlap** (k > 1): items that already have some labels first (consensus arrives early), then
  the ranking and the seeded random order, each item open while it has room for one more.
* **Audit sample**: a share of the labels goes to items drawn from the seeded random order, which
  no model has seen, and the item is marked ``audit`` (measured on, never trained on).
* **Second opinions**: a share goes to labelled items the last run found suspicious
  (``label_issues``), asked of one more annotator at a time.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, exists, func, select, update

from app.models import Adjudication, Annotation, Item, LabelIssue, Lease, RankEntry
from app.models.item import AUDIT, UNLABELED
from app.queue import slots

_items, _ranks, _leases = Item.__table__, RankEntry.__table__, Lease.__table__
_annotations, _issues, _adjudications = (
    Annotation.__table__,
    LabelIssue.__table__,
    Adjudication.__table__,
)
_rng = random.SystemRandom()


@dataclass(frozen=True)
class Plan:
    """What a queue request needs of its project, read in one row."""

    version_id: int | None
    overlap: int
    audit_share: float
    recheck_share: float
    n_labeled: int


def _unlabeled(item_id: Any) -> Any:
    return ~exists().where(_annotations.c.item_id == item_id)


_RANKED = (
    select(_ranks.c.item_id)
    .where(
        slots.open_items(
            and_(
                _ranks.c.model_version_id == bindparam("version_id"),
                _unlabeled(_ranks.c.item_id),
            ),
            _ranks.c.item_id,
        )
    )
    .order_by(_ranks.c.rank)
    .limit(bindparam("n"))
)


def _random(scope: Any) -> Any:
    return (
        select(_items.c.id)
        .where(
            slots.open_items(
                and_(_items.c.project_id == bindparam("project_id"), UNLABELED, scope), _items.c.id
            )
        )
        .order_by(_items.c.random_key, _items.c.id)
        .limit(bindparam("n"))
    )


_RANDOM = _random(True)
_AUDIT_MARKED = _random(AUDIT)
_AUDIT_NEW = _random(~_items.c.audit)
_N_AUDIT = select(func.count()).where(  # the scope of ix_items_audit
    _items.c.project_id == bindparam("project_id"), AUDIT
)
_MARK_AUDIT = (
    update(_items).where(_items.c.id.in_(bindparam("ids", expanding=True))).values(audit=True)
)
_PARTIAL = slots.partial_items()


def _votes(item_id: Any) -> Any:
    return (
        select(func.count())
        .select_from(_annotations)
        .where(_annotations.c.item_id == item_id)
        .scalar_subquery()
    )


_RECHECK = (
    select(_issues.c.item_id)
    .where(
        _issues.c.project_id == bindparam("project_id"),
        ~exists().where(_adjudications.c.item_id == _issues.c.item_id),
        _votes(_issues.c.item_id) == bindparam("k"),
        ~exists().where(
            _annotations.c.item_id == _issues.c.item_id,
            (_annotations.c.user_id == bindparam("user_id")) | _annotations.c.user_id.is_(None),
        ),
        ~exists().where(
            _leases.c.item_id == _issues.c.item_id,
            ((_leases.c.expires_at > bindparam("now")) & (_leases.c.expires_at < slots.SETTLED))
            | (_leases.c.skipped & (_leases.c.user_id == bindparam("user_id"))),
        ),
    )
    .order_by(_issues.c.rank)
    .limit(bindparam("n"))
)


def overlap_candidates(conn: Connection, keys: dict[str, Any], plan: Plan, n: int) -> list[int]:
    """Up to ``n`` items open to the caller in a project with overlap > 1, in serving order."""
    params = keys | {"k": plan.overlap, "n": n, "version_id": plan.version_id}
    found = list(conn.scalars(_PARTIAL, params))
    if len(found) < n and plan.version_id is not None:
        found += [i for i in conn.scalars(_RANKED, params) if i not in found]
    if len(found) < n:
        found += [i for i in conn.scalars(_RANDOM, params) if i not in found]
    return found[:n]


def extra_picks(
    conn: Connection, keys: dict[str, Any], plan: Plan, n: int, expires: datetime
) -> list[int]:
    """The audit items and second opinions due in a request for ``n`` new items, leased."""
    won: list[int] = []
    if plan.audit_share > 0:
        won += _audit(conn, keys, plan, n, expires)
    if plan.recheck_share > 0 and len(won) < n:
        wanted = _share(plan.recheck_share, n - len(won))
        if wanted:
            params = keys | {"k": plan.overlap, "n": wanted}
            found = list(conn.scalars(_RECHECK, params))
            won += slots.acquire(conn, keys, found, expires, slots.one_more)
    return won


def _audit(
    conn: Connection, keys: dict[str, Any], plan: Plan, n: int, expires: datetime
) -> list[int]:
    """Audit items until they are ``audit_share`` of the labelled items (and this request)."""
    marked = conn.scalar(_N_AUDIT, keys) or 0
    due = min(n, int(plan.audit_share * (plan.n_labeled + n) + 0.5) - marked)
    if due <= 0:
        return []
    params = keys | {"k": plan.overlap, "n": due}
    found = list(conn.scalars(_AUDIT_MARKED, params))
    if len(found) < due:
        found += list(conn.scalars(_AUDIT_NEW, params | {"n": due - len(found)}))
    won = slots.acquire(conn, keys, found, expires, slots.up_to(plan.overlap))
    if won:
        conn.execute(_MARK_AUDIT, {"ids": won})
    return won


def _share(share: float, n: int) -> int:
    """``share * n`` rounded up or down at random in proportion, so small requests get their
    share on average (one item at a time from the annotate screen)."""
    whole = int(share * n)
    return whole + (_rng.random() < share * n - whole)
