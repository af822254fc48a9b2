"""An item's labels now and before: its annotations, and what ``annotation_history`` kept of
the labels that were replaced or withdrawn (undo). The database triggers of migration 0007
write that history, so it is read here and never written."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import NotFound
from app.models import Annotation, AnnotationHistory, Item, User


@dataclass(frozen=True)
class LabelEntry:
    """One annotator's label(s) of the item: current (``change`` None) or past."""

    annotator: str | None  # None for imported seed labels (or a deleted user)
    labels: list[str]
    source: str
    labelled_at: datetime
    change: str | None = None  # "replaced" or "removed"
    changed_at: datetime | None = None
    correction: str | None = None  # translation review: the corrected translation


@dataclass(frozen=True)
class ItemHistory:
    item_id: int
    current: list[LabelEntry]  # newest first
    past: list[LabelEntry]  # newest change first


def item_history(
    session: Session, project_id: int, item_id: int, *, user_id: int | None = None
) -> ItemHistory:
    """The item's current and past labels (NotFound for an item of another project);
    ``user_id``: only that annotator's (an annotator's own view)."""
    found = select(Item.id).where(Item.id == item_id, Item.project_id == project_id)
    if session.scalar(found) is None:
        raise NotFound(f"item {item_id} not found in project {project_id}")
    current = (
        select(Annotation, User.name)
        .outerjoin(User, User.id == Annotation.user_id)
        .where(Annotation.project_id == project_id, Annotation.item_id == item_id)
        .order_by(Annotation.updated_at.desc(), Annotation.id.desc())
    )
    # Ids follow the order the triggers wrote the rows: newest change first.
    past = (
        select(AnnotationHistory, User.name)
        .outerjoin(User, User.id == AnnotationHistory.user_id)
        .where(AnnotationHistory.project_id == project_id, AnnotationHistory.item_id == item_id)
        .order_by(AnnotationHistory.id.desc())
    )
    if user_id is not None:
        current = current.where(Annotation.user_id == user_id)
        past = past.where(AnnotationHistory.user_id == user_id)
    return ItemHistory(
        item_id=item_id,
        current=[
            LabelEntry(name, a.labels, a.source, a.updated_at, correction=a.correction)
            for a, name in session.execute(current)
        ],
        past=[
            LabelEntry(
                name, h.labels, h.source, h.labelled_at, h.change, h.changed_at, h.correction
            )
            for h, name in session.execute(past)
        ],
    )
