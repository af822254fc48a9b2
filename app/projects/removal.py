"""Deleting a project: its rows in one transaction, then its files (audited).

Every table that belongs to a project references it with ``ON DELETE CASCADE``, so one
DELETE removes items, annotations, leases, runs, model versions and members together; the
label history, which outlives annotations on purpose (and is written by their deletion), is
removed here. The files (models,
feature caches, stored import uploads) go only after the rows are committed: a failed
commit leaves a project with all its files, never rows pointing at missing ones.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.audit.service import Actor, record
from app.config import Settings
from app.errors import Invalid
from app.models import AnnotationHistory, ImportJob, Project
from app.projects import service


@dataclass(frozen=True)
class Leftovers:
    """What remains on disk of a deleted project until ``remove_files`` runs."""

    directories: list[Path]
    files: list[Path]


def delete_project(
    session: Session,
    project: Project,
    settings: Settings,
    *,
    actor: Actor,
    typed_name: str | None = None,
) -> Leftovers:
    """Delete the project's rows; returns its files, to remove once this commits. A
    ``typed_name`` (the screen's confirmation) must be the project's name exactly."""
    if typed_name is not None and typed_name != project.name:
        raise Invalid(
            f"the name typed does not match: type {project.name!r} exactly to delete the project"
        )
    counts = service.counts(session, project)
    stored = session.scalars(
        select(ImportJob.stored_name).where(ImportJob.project_id == project.id)
    ).all()
    detail = {"items": counts.n_items, "labelled": counts.n_labeled}
    record(
        session, actor, "project.delete", target=project.name, project_id=project.id, detail=detail
    )
    session.execute(delete(Project).where(Project.id == project.id))
    # After the cascade: deleting annotations writes their last state into the history.
    session.execute(delete(AnnotationHistory).where(AnnotationHistory.project_id == project.id))
    session.expunge(project)
    imports = settings.data_dir / "imports"
    return Leftovers(
        directories=[settings.project_dir(project.id)],
        files=[imports / name for name in stored if name],  # "": read in the request
    )


def remove_files(leftovers: Leftovers) -> None:
    """Remove a deleted project's files; missing ones are fine (a repeated cleanup)."""
    for directory in leftovers.directories:
        shutil.rmtree(directory, ignore_errors=True)
    for path in leftovers.files:
        path.unlink(missing_ok=True)
