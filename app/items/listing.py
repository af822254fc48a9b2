"""Browse a project's items: keyset pages by id, each item with its latest label(s).

Pages are keyed on ``items.id`` (``after`` the last id of the previous page), so a deep page
costs the same as the first one: an index range scan on ``(project_id, id)``, never an
``OFFSET`` over the rows before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from app.models import Annotation, Item, Project, User

ItemStatus = Literal["all", "labeled", "unlabeled"]
MAX_PAGE = 500


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


@dataclass(frozen=True)
class ItemPage:
    rows: list[ItemRow]
    next: int | None  # the ``after`` of the next page; None on the last page


def list_items(
    session: Session,
    project: Project,
    *,
    after: int = 0,
    limit: int = 50,
    status: ItemStatus = "all",
) -> ItemPage:
    """Up to ``limit`` (≤ ``MAX_PAGE``) items with an id above ``after``, in id order."""
    limit = max(1, min(limit, MAX_PAGE))
    items = _page_items(session, project.id, after, limit + 1, status)
    more = len(items) > limit
    items = items[:limit]
    annotations = _annotations(session, [item.id for item in items])
    rows = [_row(item, annotations.get(item.id, [])) for item in items]
    return ItemPage(rows=rows, next=items[-1].id if more else None)


def _page_items(
    session: Session, project_id: int, after: int, n: int, status: ItemStatus
) -> list[Item]:
    stmt = select(Item).where(Item.project_id == project_id, Item.id > after)
    if status == "labeled":
        # Walk the labelled ids on (project_id, item_id): sparse labels cost no pool scan.
        ids = (
            select(Annotation.item_id)
            .distinct()
            .where(Annotation.project_id == project_id, Annotation.item_id > after)
            .order_by(Annotation.item_id)
            .limit(n)
        )
        stmt = stmt.where(Item.id.in_(ids.scalar_subquery()))
    elif status == "unlabeled":
        stmt = stmt.where(~exists().where(Annotation.item_id == Item.id))
    return list(session.scalars(stmt.order_by(Item.id).limit(n)))


def _annotations(
    session: Session, item_ids: list[int]
) -> dict[int, list[tuple[Annotation, str | None]]]:
    by_item: dict[int, list[tuple[Annotation, str | None]]] = {}
    if not item_ids:
        return by_item
    rows = session.execute(
        select(Annotation, User.name)
        .outerjoin(User, User.id == Annotation.user_id)
        .where(Annotation.item_id.in_(item_ids))
    )
    for annotation, name in rows:
        by_item.setdefault(annotation.item_id, []).append((annotation, name))
    return by_item


def _row(item: Item, annotations: list[tuple[Annotation, str | None]]) -> ItemRow:
    if not annotations:
        return ItemRow(item=item, n_annotations=0, latest=None)
    annotation, name = max(annotations, key=lambda pair: (pair[0].updated_at, pair[0].id))
    latest = LatestLabel(
        labels=list(annotation.labels),
        source=annotation.source,
        annotator=name,
        updated_at=annotation.updated_at,
    )
    return ItemRow(item=item, n_annotations=len(annotations), latest=latest)
