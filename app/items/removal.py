"""Deleting items: a test import (undone whole), a duplicate, a text that should not be there.

The item's annotations, leases, ranking entries and review rows go with it (``ON DELETE
CASCADE``), and so does its label history: a deleted text leaves nothing behind. The pool
changed, so its version is bumped (the feature caches are keyed by it) and a run is queued to
rank what is left; the labels withdrawn count as label events. A run already under way
computed on the old pool: it writes its per-item rows through `present`, which drops the
deleted items' rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.orm import Session

from app.audit.service import Actor, record
from app.errors import Conflict, Invalid, NotFound
from app.models import Annotation, AnnotationHistory, ImportJob, ImportStatus, Item, Project
from app.training import service as training

MAX_DELETE = 1000  # items per request
PRESENT_CHUNK = 5000  # item ids per look-up: far below SQLite's and PostgreSQL's bind limits
Row = dict[str, Any]


def selection(session: Session, project: Project, item_ids: Sequence[int]) -> list[int]:
    """The distinct ids in order: 1 to ``MAX_DELETE`` of them, all of the project's (else
    NotFound naming the first that is not: another project's item is not found)."""
    ids = sorted(set(item_ids))
    if not 1 <= len(ids) <= MAX_DELETE:
        raise Invalid(f"ids: send between 1 and {MAX_DELETE} item ids, not {len(ids)}")
    found = set(
        session.scalars(select(Item.id).where(Item.project_id == project.id, Item.id.in_(ids)))
    )
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound(f"item {missing[0]} not found")
    return ids


def delete_items(
    session: Session, project: Project, item_ids: Sequence[int], *, actor: Actor
) -> int:
    """Delete the items (all of the project's, or NotFound naming the first that is not);
    returns how many were deleted."""
    ids = selection(session, project, item_ids)
    labels = _remove(session, project, lambda column: column.in_(ids))
    detail = {"items": len(ids), "labels": labels, "ids": ids[:20]}
    record(
        session, actor, "items.delete", target=project.name, project_id=project.id, detail=detail
    )
    return len(ids)


def undo_import(session: Session, project: Project, job_id: int, *, actor: Actor) -> int:
    """Delete the items an import added (their labels with them); returns how many. The
    import stays listed, as ``undone``."""
    job = session.scalar(
        select(ImportJob)
        .where(ImportJob.id == job_id, ImportJob.project_id == project.id)
        .with_for_update()
    )
    if job is None:
        raise NotFound(f"import {job_id} not found")
    if job.status != ImportStatus.SUCCEEDED:
        raise Conflict(f"import {job_id} is {job.status}: only a finished import can be undone")
    if job.first_item_id is None or job.last_item_id is None:
        raise Conflict(f"import {job_id} added no items that can be told apart (nothing to undo)")
    first, last = job.first_item_id, job.last_item_id
    n = session.scalar(
        select(func.count()).where(Item.project_id == project.id, Item.id.between(first, last))
    )
    labels = _remove(session, project, lambda column: column.between(first, last))
    job.status = ImportStatus.UNDONE
    detail = {"import_id": job_id, "file": job.filename, "items": n or 0, "labels": labels}
    record(session, actor, "import.undo", target=project.name, project_id=project.id, detail=detail)
    return n or 0


Which = Callable[[Any], ColumnElement[bool]]  # an item id column -> the items to delete


def _remove(session: Session, project: Project, which: Which) -> int:
    """Delete the project's items ``which`` picks (by a list of ids, or an import's range,
    however large); returns the number of labels that went with them."""
    labels = session.scalar(
        select(func.count())
        .select_from(Annotation)
        .where(Annotation.project_id == project.id, which(Annotation.item_id))
    )
    session.execute(delete(Item).where(Item.project_id == project.id, which(Item.id)))
    # After the cascade: deleting annotations writes their last state into the history.
    session.execute(
        delete(AnnotationHistory).where(
            AnnotationHistory.project_id == project.id, which(AnnotationHistory.item_id)
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
    return labels or 0


def present(session: Session, rows: list[Row]) -> list[Row]:
    """The rows (each with an ``item_id``) whose item still exists, in order; call it in the
    transaction that inserts them. A delete committed since the rows were computed drops its
    items' rows here instead of failing the insert on the foreign key.

    On PostgreSQL the items found stay locked (``FOR KEY SHARE``, the lock the foreign key
    check takes anyway) until the transaction ends, so a delete starting meanwhile waits and
    its cascade then takes the new rows too; on SQLite writers are serialised.
    """
    found: set[int] = set()
    for chunk in _chunks(sorted({row["item_id"] for row in rows})):
        found.update(
            session.scalars(
                select(Item.id).where(Item.id.in_(chunk)).with_for_update(read=True, key_share=True)
            )
        )
    return [row for row in rows if row["item_id"] in found]


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), PRESENT_CHUNK):
        yield ids[start : start + PRESENT_CHUNK]
