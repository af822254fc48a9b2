"""Browse a project's items (the data manager): keyset pages, filtered, by id or by score.

Pages are keyed (``after`` the last key of the previous page), so a deep page costs the same
as the first one, never an ``OFFSET`` over the rows before it. A page walks one of three
orders ("drivers") and applies the filter's conditions to what it meets: the items by id (an
index range on ``(project_id, id)``), the labelled ids (on ``annotations (project_id,
item_id)``, so sparse labels cost no pool scan), or the published ranking by score (at most
``ranking_depth`` rows). Figures: ``bench/items_page.py`` and ``bench/README.md``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.annotations.outcomes import ItemOutcome, item_outcomes
from app.items.filters import Guess, ItemFilter, ItemStatus, conditions, guesses, ranked
from app.models import Annotation, Item, Project, User
from app.projects.service import options

__all__ = ["ItemFilter", "ItemPage", "ItemRow", "ItemStatus", "LatestLabel", "list_items"]
MAX_PAGE = 500
BATCH = 500  # candidates read per round when rows must pass the consensus rule
MAX_ROUNDS = 20  # then the page ends short, and ``next`` says where to go on
# A page stops looking after this long, or after ID_WINDOW ids of the pool per round: a rare
# text search would otherwise read the whole pool (0.74 s at 1M items on SQLite); it ends
# short instead and ``next`` goes on from where it stopped. See bench/README.md (items_page).
BUDGET_S = 0.15
ID_WINDOW = 25_000


@dataclass(frozen=True)
class LatestLabel:
    """The most recently written annotation of an item."""

    labels: list[str]
    source: str
    annotator: str | None  # None for imported seed labels (or a deleted user)
    updated_at: datetime


@dataclass(frozen=True)
class ItemRow:
    item: Item
    n_annotations: int
    latest: LatestLabel | None
    outcome: str | None = None  # None: never labelled (or an annotator's view)
    final_labels: list[str] | None = None
    guess: Guess | None = None


@dataclass(frozen=True)
class ItemPage:
    rows: list[ItemRow]
    next: int | None  # the ``after`` of the next page; None on the last page
    next_score: float | None = None  # with ``sort="score"``: the ``after_score`` too


@dataclass
class _Walk:
    """One page's progress through its driver's order."""

    after: int
    after_score: float | None
    found: list[Item]
    by_score: bool = False
    done: bool = False
    last_id: int = 0  # the project's highest item id (the id walk ends there)


def list_items(
    session: Session,
    project: Project,
    *,
    after: int = 0,
    after_score: float | None = None,
    limit: int = 50,
    status: ItemStatus = "all",
    flt: ItemFilter | None = None,
) -> ItemPage:
    """Up to ``limit`` (≤ ``MAX_PAGE``) items past the cursor that pass the filter."""
    flt = flt or ItemFilter(status=status)
    limit = max(1, min(limit, MAX_PAGE))
    by_score = flt.sort == "score"
    walk = _Walk(after, after_score if by_score else None, found=[], by_score=by_score)
    _fill(session, project, flt, walk, limit + 1)
    more = len(walk.found) > limit or not walk.done
    items = walk.found[:limit]
    rows = _rows(session, project, flt, items)
    if not more:
        return ItemPage(rows=rows, next=None)
    if len(walk.found) > limit:
        last = items[-1].id
        score = rows[-1].guess.score if flt.sort == "score" and rows[-1].guess else None
        return ItemPage(rows=rows, next=last, next_score=score)
    return ItemPage(rows=rows, next=walk.after, next_score=walk.after_score)


def _fill(session: Session, project: Project, flt: ItemFilter, walk: _Walk, want: int) -> None:
    conds = conditions(session, project, flt)
    order = ranked(session, project, flt) if flt.needs_ranking else None
    base = select(Item).where(Item.project_id == project.id, *conds)
    deadline = time.monotonic() + BUDGET_S
    last = select(func.max(Item.id)).where(Item.project_id == project.id)
    walk.last_id = session.scalar(last) or 0
    for _ in range(MAX_ROUNDS):
        need = want - len(walk.found)
        if order is not None:
            batch = _ranked_batch(session, base, order, walk, max(need, BATCH))
        elif _by_annotations(flt):
            batch = _labelled_batch(session, project, base, walk, max(need, BATCH))
        else:
            batch = _id_batch(session, base, walk, need if not flt.needs_outcomes else BATCH)
        walk.found += _keep(session, project, flt, batch)
        if walk.done or len(walk.found) >= want or time.monotonic() > deadline:
            return


def _by_annotations(flt: ItemFilter) -> bool:
    """Filters that only labelled items pass: walk the labelled ids, not the pool."""
    keyed = (flt.annotator, flt.source, flt.own_user_id)
    return flt.status in ("labeled", "disagreement") or keyed != (None, None, None)


def _id_batch(session: Session, base: Select[Item], walk: _Walk, n: int) -> list[Item]:
    """The next matches in id order, within ``ID_WINDOW`` ids of the cursor."""
    end = min(walk.after + ID_WINDOW, walk.last_id)
    if walk.after >= end:
        walk.done = True
        return []
    stmt = base.where(Item.id > walk.after, Item.id <= end).order_by(Item.id).limit(n)
    items = list(session.scalars(stmt))
    if len(items) == n:
        walk.after = items[-1].id
        return items
    walk.after = end
    walk.done = end >= walk.last_id
    return items


def _labelled_batch(
    session: Session, project: Project, base: Select[Item], walk: _Walk, n: int
) -> list[Item]:
    ids = list(
        session.scalars(
            select(Annotation.item_id)
            .distinct()
            .where(Annotation.project_id == project.id, Annotation.item_id > walk.after)
            .order_by(Annotation.item_id)
            .limit(n)
        )
    )
    walk.done = len(ids) < n
    if not ids:
        return []
    walk.after = ids[-1]
    stmt = base.where(Item.id.in_(ids)).order_by(Item.id)
    return list(session.scalars(stmt))


def _ranked_batch(
    session: Session, base: Select[Item], order: list[tuple[float, int]], walk: _Walk, n: int
) -> list[Item]:
    start = _start(order, walk)
    chunk = order[start : start + n]
    walk.done = start + n >= len(order)
    if not chunk:
        return []
    score, walk.after = chunk[-1]
    walk.after_score = score if walk.by_score else None
    stmt = base.where(Item.id.in_([k for _, k in chunk]))
    by_id = {item.id: item for item in session.scalars(stmt)}
    return [by_id[k] for _, k in chunk if k in by_id]


def _start(order: list[tuple[float, int]], walk: _Walk) -> int:
    """Where the walk resumes in ``order`` (by score, or by id when no score is given)."""
    if walk.after_score is None:
        return next((i for i, (_, k) in enumerate(order) if k > walk.after), len(order))
    key = (-walk.after_score, walk.after)
    return next((i for i, (s, k) in enumerate(order) if (-s, k) > key), len(order))


def _keep(session: Session, project: Project, flt: ItemFilter, batch: list[Item]) -> list[Item]:
    """The rows of ``batch`` that pass the consensus rule, where the filter needs it."""
    if not flt.needs_outcomes or not batch:
        return batch
    found = _outcomes(session, project, [item.id for item in batch])
    return [item for item in batch if _passes(found.get(item.id), flt)]


def _passes(found: ItemOutcome | None, flt: ItemFilter) -> bool:
    if found is None:
        return False
    if flt.status == "disagreement" and found.outcome.status != "disagreement":
        return False
    return flt.label is None or flt.label in found.outcome.labels


def _outcomes(session: Session, project: Project, ids: Sequence[int]) -> dict[int, ItemOutcome]:
    return item_outcomes(
        session, project.id, options(project), multi_label=project.multi_label, item_ids=ids
    )


def _rows(session: Session, project: Project, flt: ItemFilter, items: list[Item]) -> list[ItemRow]:
    ids = [item.id for item in items]
    annotations = _annotations(session, ids, flt.own_user_id)
    found = {} if flt.own_user_id is not None else _outcomes(session, project, ids)
    guessed = guesses(session, project, ids)
    return [
        _row(item, annotations.get(item.id, []), found.get(item.id), guessed.get(item.id))
        for item in items
    ]


def _annotations(
    session: Session, item_ids: list[int], own_user_id: int | None
) -> dict[int, list[tuple[Annotation, str | None]]]:
    by_item: dict[int, list[tuple[Annotation, str | None]]] = {}
    if not item_ids:
        return by_item
    stmt = (
        select(Annotation, User.name)
        .outerjoin(User, User.id == Annotation.user_id)
        .where(Annotation.item_id.in_(item_ids))
    )
    if own_user_id is not None:
        stmt = stmt.where(Annotation.user_id == own_user_id)
    for annotation, name in session.execute(stmt):
        by_item.setdefault(annotation.item_id, []).append((annotation, name))
    return by_item


def _row(
    item: Item,
    annotations: list[tuple[Annotation, str | None]],
    found: ItemOutcome | None,
    guess: Guess | None,
) -> ItemRow:
    outcome = found.outcome.status if found else None
    final = list(found.outcome.labels) if found else None
    if not annotations:
        return ItemRow(item, 0, None, outcome=outcome, final_labels=final, guess=guess)
    annotation, name = max(annotations, key=lambda pair: (pair[0].updated_at, pair[0].id))
    latest = LatestLabel(
        labels=list(annotation.labels),
        source=annotation.source,
        annotator=name,
        updated_at=annotation.updated_at,
    )
    return ItemRow(item, len(annotations), latest, outcome, final, guess)
