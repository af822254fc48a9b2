"""A project's label set after creation: add, rename, merge and delete labels (each audited).

A label is a string stored in every annotation, adjudication and suspicious-label row that
carries it, so renaming or merging rewrites those rows in the same transaction as the label
set: an annotation never names a label the project does not have. The label tallies follow
through the annotation triggers (migration 0005). The published model still answers with the
old names until it is retrained, so every change that rewrites labels queues a run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import String, cast, select, update
from sqlalchemy.orm import Session

from app.audit.service import Actor, record
from app.errors import Conflict, Invalid, NotFound
from app.models import Adjudication, Annotation, LabelIssue, Project
from app.text import clean_label, label_key
from app.training import service as training

MAX_LABEL_LENGTH = 200  # label_tallies.label

Rewrite = Callable[[list[str]], list[str]]


def add_label(session: Session, project: Project, name: str, *, actor: Actor) -> Project:
    """Append a label to the project's set (Conflict if it is there, in any case)."""
    name = _checked_name(project, name)
    project.labels = [*project.labels, name]
    record(session, actor, "label.add", target=name, project_id=project.id)
    session.flush()
    return project


def rename_label(
    session: Session, project: Project, label: str, name: str, *, actor: Actor
) -> Project:
    """Rename ``label`` to ``name`` everywhere it is stored; its place in the set is kept."""
    _require(project, label)
    name = _checked_name(project, name, besides=label)
    changed = _rewrite(session, project, label, lambda labels: _swap(labels, label, name))
    project.labels = [name if x == label else x for x in project.labels]
    described = dict(project.label_descriptions or {})
    if label in described:  # the description goes with the label
        described[name] = described.pop(label)
        project.label_descriptions = described
    detail = {"old": label, "new": name, "annotations": changed}
    record(session, actor, "label.rename", target=name, project_id=project.id, detail=detail)
    _retrain(session, project, changed)
    return project


def remove_label(
    session: Session,
    project: Project,
    label: str,
    *,
    merge_into: str | None = None,
    actor: Actor,
) -> Project:
    """Delete ``label``: refused while any annotation carries it, unless ``merge_into`` names
    the label those annotations get instead (a multi-label annotation with both keeps one)."""
    _require(project, label)
    rest = [x for x in project.labels if x != label]
    least = 1 if project.multi_label else 2
    if len(rest) < least:
        kind = "a multi-label" if project.multi_label else "a single-label"
        raise Invalid(f"label {label!r}: {kind} project needs at least {least} labels")
    if merge_into is None:
        used = _carrying(session, project, label, Annotation)
        if used:
            n = f"{len(used)} annotation{'' if len(used) == 1 else 's'}"
            raise Conflict(
                f"label {label!r} is used by {n}: rename it, or merge it into another label "
                "(merge_into) to delete it"
            )
        changed = 0
    else:
        if merge_into == label or merge_into not in rest:
            raise Invalid(f"merge_into: {merge_into!r} is not another label of the project")
        target = merge_into
        changed = _rewrite(session, project, label, lambda labels: _swap(labels, label, target))
    project.labels = rest
    project.label_descriptions = {
        k: v for k, v in (project.label_descriptions or {}).items() if k != label
    }
    detail: dict[str, Any] = {"merged_into": merge_into, "annotations": changed}
    record(session, actor, "label.delete", target=label, project_id=project.id, detail=detail)
    _retrain(session, project, changed)
    return project


def _require(project: Project, label: str) -> None:
    if label not in project.labels:
        raise NotFound(f"label {label!r} not found; the project's labels are: {project.labels}")


def _checked_name(project: Project, name: str, *, besides: str | None = None) -> str:
    """``name`` as the project would store it, by the rules of a new project's label set."""
    try:
        name = clean_label(name)
    except ValueError as exc:
        raise Invalid(f"name: {exc}") from None
    if len(name) > MAX_LABEL_LENGTH:
        raise Invalid(f"name: at most {MAX_LABEL_LENGTH} characters, not {len(name)}")
    key = label_key(name)
    clash = next((x for x in project.labels if x != besides and label_key(x) == key), None)
    if clash is not None:
        raise Conflict(f"name: the project already has the label {clash!r}")
    return name


def _swap(labels: list[str], old: str, new: str) -> list[str]:
    """``labels`` with ``old`` replaced by ``new``, in place and without repeating ``new``."""
    out: list[str] = []
    for x in labels:
        x = new if x == old else x
        if x not in out:
            out.append(x)
    return out


def _carrying(session: Session, project: Project, label: str, model: Any) -> list[Any]:
    """The rows of ``model`` in the project whose labels hold ``label``: a text match on the
    stored JSON narrows them in the database, the exact test is made here."""
    stmt = select(model).where(
        model.project_id == project.id,
        cast(model.labels, String).contains(json.dumps(label), autoescape=True),
    )
    return [row for row in session.scalars(stmt) if label in row.labels]


def _rewrite(session: Session, project: Project, label: str, change: Rewrite) -> int:
    """Apply ``change`` to every stored label list holding ``label``; returns how many
    annotations changed (adjudications and suspicious labels follow them)."""
    annotations = _carrying(session, project, label, Annotation)
    for row in annotations:
        row.labels = change(row.labels)
    for adjudication in _carrying(session, project, label, Adjudication):
        adjudication.labels = change(adjudication.labels)
    session.flush()
    issues = session.scalars(select(LabelIssue).where(LabelIssue.project_id == project.id))
    for issue in issues:
        if label in issue.suggested:
            issue.suggested = change(issue.suggested)
    session.flush()
    return len(annotations)


def _retrain(session: Session, project: Project, changed: int) -> None:
    """Count the rewritten labels as label events and queue a run: the model must learn the
    new names (and, after a merge, the new classes)."""
    if not changed:
        return
    session.execute(
        update(Project)
        .where(Project.id == project.id)
        .values(label_events=Project.label_events + changed)
    )
    training.queue_run(session, project.id, reason="labels")
