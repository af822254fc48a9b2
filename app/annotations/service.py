"""Annotations: validate against the project's labels, store one per annotator and item."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.errors import Invalid, NotFound
from app.models import Annotation, Item, Project, User
from app.models.base import utcnow
from app.models.label_tally import LabelTally
from app.queue import service as queue
from app.training import service as training


def check_labels(project: Project, labels: list[str]) -> list[str]:
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
    session: Session, project: Project, user: User, *, item_id: int, labels: list[str]
) -> tuple[Annotation, bool]:
    """Store ``user``'s label(s) for an item; returns the annotation and whether it is new.

    A second submit by the same annotator replaces the first; one with the same labels
    changes nothing (a retry). The item's lease is settled, the project's label counter
    bumped, and a training run queued when a batch of new labels is complete.

    The lease does not gate the submit: a label sent after the caller's lease expired is
    still stored as the caller's own annotation, even if the item went to someone else
    meanwhile (who may then label it too; each annotator has at most one row per item).
    """
    check_labels(project, labels)
    item = session.scalar(select(Item).where(Item.id == item_id, Item.project_id == project.id))
    if item is None:
        raise NotFound(f"item {item_id} not found in project {project.id}")
    annotation, created, changed = _upsert(session, project, user, item, labels)
    queue.settle(session, project.id, item.id, user.id)
    if not changed:
        return annotation, created
    events = _bump_label_events(session, project.id)
    training.maybe_queue_run(
        session, project.id, label_events=events, batch_size=project.batch_size
    )
    return annotation, created


def _upsert(
    session: Session, project: Project, user: User, item: Item, labels: list[str]
) -> tuple[Annotation, bool, bool]:
    """Insert or replace the user's annotation; returns it, whether new, whether changed."""
    existing = _find(session, item.id, user.id)
    if existing is None:
        annotation = Annotation(
            project_id=project.id, item_id=item.id, user_id=user.id, labels=labels, source="human"
        )
        try:
            with session.begin_nested():
                session.add(annotation)
                session.flush()
            return annotation, True, True
        except IntegrityError:  # a concurrent submit of the same user won the insert
            existing = _find(session, item.id, user.id)
            if existing is None:
                raise
    if existing.labels == labels:
        return existing, False, False
    existing.labels = labels
    existing.updated_at = utcnow()
    session.flush()
    return existing, False, True


def _find(session: Session, item_id: int, user_id: int) -> Annotation | None:
    return session.scalar(
        select(Annotation).where(Annotation.item_id == item_id, Annotation.user_id == user_id)
    )


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
    return (
        session.scalar(
            update(Project)
            .where(Project.id == project_id)
            .values(label_events=Project.label_events + 1)
            .returning(Project.label_events)
        )
        or 0
    )


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
