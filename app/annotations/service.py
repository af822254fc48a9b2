"""Annotations: validate against the project's labels, store one per annotator and item."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, Protocol

from sqlalchemy import Connection, Insert, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.db import connection
from app.errors import Invalid, NotFound
from app.models import Annotation, Item, Project, User
from app.models.base import utcnow
from app.models.label_tally import LabelTally
from app.queue import service as queue
from app.queue.service import HasId
from app.training import service as training


class LabelRules(Protocol):
    """What a submit needs of its project (a :class:`Project` has it all)."""

    @property
    def id(self) -> int: ...
    @property
    def labels(self) -> list[str]: ...
    @property
    def multi_label(self) -> bool: ...
    @property
    def batch_size(self) -> int: ...


@dataclass(frozen=True)
class Rules:
    """A project's :class:`LabelRules`, read as one row by :func:`label_rules`."""

    id: int
    labels: list[str]
    multi_label: bool
    batch_size: int


@dataclass(frozen=True)
class Stored:
    """An annotation as a submit left it."""

    id: int
    item_id: int
    labels: list[str]
    created_at: datetime
    updated_at: datetime


# Built once: a label submit runs these on every request (see app.queue.service).
_annotations, _items, _projects = Annotation.__table__, Item.__table__, Project.__table__
_RULES = select(
    _projects.c.id, _projects.c.labels, _projects.c.multi_label, _projects.c.batch_size
).where(_projects.c.id == bindparam("project_id"))
_ITEM_IN_PROJECT = select(_items.c.id).where(
    _items.c.id == bindparam("item_id"), _items.c.project_id == bindparam("project_id")
)
_MINE = select(
    _annotations.c.id, _annotations.c.labels, _annotations.c.created_at, _annotations.c.updated_at
).where(
    _annotations.c.item_id == bindparam("item_id"), _annotations.c.user_id == bindparam("user_id")
)
_RELABEL = (
    update(_annotations)
    .where(_annotations.c.id == bindparam("annotation_id"))
    .values(labels=bindparam("labels"), updated_at=bindparam("now"))
)
_BUMP = (
    update(_projects)
    .where(_projects.c.id == bindparam("project_id"))
    .values(label_events=_projects.c.label_events + 1)
    .returning(_projects.c.label_events)
)


def label_rules(session: Session, project_id: int) -> Rules:
    """The project's labels and batch size, without loading the project (NotFound if none)."""
    row = connection(session).execute(_RULES, {"project_id": project_id}).first()
    if row is None:
        raise NotFound(f"project {project_id} not found")
    return Rules(*row)


def check_labels(project: LabelRules, labels: list[str]) -> list[str]:
    """Return the labels if they fit the project (one known label, or a set of them)."""
    unknown = [label for label in labels if label not in project.labels]
    if unknown:
        raise Invalid(
            f"unknown label {unknown[0]!r}; the project's labels are: {', '.join(project.labels)}"
        )
    if len(set(labels)) != len(labels):
        raise Invalid("labels must not repeat")
    if not project.multi_label and len(labels) != 1:
        raise Invalid("this project is single-label: send exactly one label in 'label'")
    return labels


def submit(
    session: Session, project: LabelRules, user: HasId, *, item_id: int, labels: list[str]
) -> tuple[Stored, bool]:
    """Store ``user``'s label(s) for an item; returns the annotation and whether it is new.

    A second submit by the same annotator replaces the first; one with the same labels
    changes nothing (a retry). The item's lease is settled, the project's label counter
    bumped, and a training run queued when a batch of new labels is complete.

    The lease does not gate the submit: a label sent after the caller's lease expired is
    still stored as the caller's own annotation, even if the item went to someone else
    meanwhile (who may then label it too; each annotator has at most one row per item).
    """
    check_labels(project, labels)
    conn = connection(session)
    keys = {"project_id": project.id, "item_id": item_id, "user_id": user.id}
    if conn.execute(_ITEM_IN_PROJECT, keys).first() is None:
        raise NotFound(f"item {item_id} not found in project {project.id}")
    stored, created, changed = _upsert(conn, keys, labels)
    queue.settle(session, project.id, item_id, user.id)
    if not changed:
        return stored, created
    events = _bump_label_events(session, project.id)
    training.maybe_queue_run(
        session, project.id, label_events=events, batch_size=project.batch_size
    )
    return stored, created


def _upsert(conn: Connection, keys: dict[str, Any], labels: list[str]) -> tuple[Stored, bool, bool]:
    """Insert or replace the user's annotation; returns it, whether new, whether changed.

    The insert does nothing when the user already has a row for the item (their earlier
    label, or a concurrent submit that won the race), which is then read and replaced.
    """
    now = utcnow()
    row = {**keys, "labels": labels, "source": "human", "created_at": now, "updated_at": now}
    new_id = conn.execute(_insert_new(conn.dialect.name), row).scalar()
    if new_id is not None:
        return Stored(new_id, keys["item_id"], labels, now, now), True, True
    existing = conn.execute(_MINE, keys).one()
    if existing.labels == labels:
        unchanged = Stored(
            existing.id, keys["item_id"], labels, existing.created_at, existing.updated_at
        )
        return unchanged, False, False
    conn.execute(_RELABEL, {"annotation_id": existing.id, "labels": labels, "now": now})
    return Stored(existing.id, keys["item_id"], labels, existing.created_at, now), False, True


@cache
def _insert_new(dialect: str) -> Insert:
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(_annotations)
    return insert.on_conflict_do_nothing(
        index_elements=[_annotations.c.item_id, _annotations.c.user_id]
    ).returning(_annotations.c.id)


def undo_last(session: Session, project: Project, user: User, *, lease_seconds: int) -> Item | None:
    """Withdraw ``user``'s most recent label in the project; the item is leased back to them."""
    annotation = session.scalar(
        select(Annotation)
        .where(Annotation.project_id == project.id, Annotation.user_id == user.id)
        .order_by(Annotation.updated_at.desc(), Annotation.id.desc())
        .limit(1)
    )
    if annotation is None:
        return None
    item = session.get_one(Item, annotation.item_id)
    session.delete(annotation)
    session.flush()
    queue.lease_again(session, project.id, item.id, user.id, lease_seconds)
    _bump_label_events(session, project.id)
    return item


def _bump_label_events(session: Session, project_id: int) -> int:
    return connection(session).execute(_BUMP, {"project_id": project_id}).scalar_one()


def history(
    session: Session, project: Project, user: User, *, limit: int = 20
) -> list[tuple[Annotation, Item]]:
    """The annotator's most recent labels in the project, newest first."""
    rows = session.execute(
        select(Annotation, Item)
        .join(Item, Item.id == Annotation.item_id)
        .where(Annotation.project_id == project.id, Annotation.user_id == user.id)
        .order_by(Annotation.updated_at.desc(), Annotation.id.desc())
        .limit(limit)
    )
    return [(annotation, item) for annotation, item in rows]


def label_counts(session: Session, project: Project) -> dict[str, int]:
    """How often each label was given in the project (every label present, zeros included).

    Read from ``label_tallies``, which triggers keep in step with every annotation write.
    """
    counts = dict.fromkeys(project.labels, 0)
    for label, n in session.execute(
        select(LabelTally.label, LabelTally.n).where(LabelTally.project_id == project.id)
    ):
        if label in counts:
            counts[label] = n
    return counts
