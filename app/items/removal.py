"""Deleting items: a test import's rows, a duplicate, a text that should never have been there.

The item's annotations, leases, ranking entries and review rows go with it (``ON DELETE
CASCADE``), and so does its label history: a deleted text leaves nothing behind. The pool
changed, so its version is bumped (the feature caches are keyed by it) and a run is queued to
rank what is left; the labels withdrawn count as label events.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from app.audit.service import Actor, record
from app.errors import Invalid, NotFound
from app.models import Annotation, AnnotationHistory, Item, Project
from app.training import service as training

MAX_DELETE = 1000  # items per request


def delete_items(
    session: Session, project: Project, item_ids: Sequence[int], *, actor: Actor
) -> int:
    """Delete the items (all of the project's, or NotFound naming the first that is not);
    returns how many were deleted."""
    ids = sorted(set(item_ids))
    if not 1 <= len(ids) <= MAX_DELETE:
        raise Invalid(f"ids: send between 1 and {MAX_DELETE} item ids, not {len(ids)}")
    found = set(
        session.scalars(select(Item.id).where(Item.project_id == project.id, Item.id.in_(ids)))
    )
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound(f"item {missing[0]} not found")
    labels = session.scalar(
        select(func.count()).select_from(Annotation).where(Annotation.item_id.in_(ids))
    )
    session.execute(delete(Item).where(Item.id.in_(ids)))
    # After the cascade: deleting annotations writes their last state into the history.
    session.execute(
        delete(AnnotationHistory).where(
            AnnotationHistory.project_id == project.id, AnnotationHistory.item_id.in_(ids)
        )
    )
    session.execute(
        update(Project)
        .where(Project.id == project.id)
        .values(
            pool_version=Project.pool_version + 1,
            label_events=Project.label_events + (labels or 0),
        )
    )
    training.queue_run(session, project.id, reason="import")
    detail = {"items": len(ids), "labels": labels or 0, "ids": ids[:20]}
    record(
        session, actor, "items.delete", target=project.name, project_id=project.id, detail=detail
    )
    return len(ids)
