"""Annotations: validate against the project's labels, store one per annotator and item."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
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
    @property
    def task(self) -> str: ...


@dataclass(frozen=True)
class Rules:
    """A project's :class:`LabelRules`, read as one row by :func:`label_rules`."""

    id: int
    labels: list[str]
    multi_label: bool
    batch_size: int
    task: str = "classification"


@dataclass(frozen=True)
class Doubt:
    """An annotator's doubt about their label: either part sends the item to review."""

    flag: str | None = None  # one of FLAGS
    comment: str | None = None


NO_DOUBT = Doubt()
FLAGS = ("unsure",)
MAX_COMMENT = 2000  # characters
MAX_CORRECTION = 20_000  # characters of a corrected translation
CORRECTING_TASK = "translation_review"  # the task whose labels may carry a correction


def check_correction(project: LabelRules, correction: str | None) -> str | None:
    """A corrected translation, checked (Invalid names the field): only a translation
    review takes one; NFC, trimmed, no NUL, at most MAX_CORRECTION characters; blank is none."""
    if correction is None:
        return None
    if project.task != CORRECTING_TASK:
        raise Invalid("correction: only translation_review projects take a correction")
    text = unicodedata.normalize("NFC", correction).strip()
    if "\x00" in text:
        raise Invalid("correction: must not contain a NUL character (\\u0000)")
    if len(text) > MAX_CORRECTION:
        raise Invalid(f"correction: at most {MAX_CORRECTION} characters, not {len(text)}")
    return text or None


def check_doubt(flag: str | None, comment: str | None) -> Doubt:
    """The flag and comment of a submit, checked (Invalid names the field); blank is none."""
    if flag is not None and flag not in FLAGS:
        raise Invalid(f"flag: use one of {', '.join(FLAGS)} (or leave it out)")
    comment = (comment or "").strip() or None
    if comment is not None and len(comment) > MAX_COMMENT:
        raise Invalid(f"comment: at most {MAX_COMMENT} characters, not {len(comment)}")
    return Doubt(flag, comment)


@dataclass(frozen=True)
class Stored:
    """An annotation as a submit left it."""

    id: int
    item_id: int
    labels: list[str]
    created_at: datetime
    updated_at: datetime
    doubt: Doubt = NO_DOUBT
    correction: str | None = None


# Built once: a label submit runs these on every request (see app.queue.service).
_annotations, _items, _projects = Annotation.__table__, Item.__table__, Project.__table__
_RULES = select(
    _projects.c.id,
    _projects.c.labels,
    _projects.c.multi_label,
    _projects.c.batch_size,
    _projects.c.task,
).where(_projects.c.id == bindparam("project_id"))
_ITEM_IN_PROJECT = select(_items.c.id).where(
    _items.c.id == bindparam("item_id"), _items.c.project_id == bindparam("project_id")
)
_ITEMS_IN_PROJECT = select(_items.c.id).where(
    _items.c.id.in_(bindparam("item_ids", expanding=True)),
    _items.c.project_id == bindparam("project_id"),
)
_MINE = select(
    _annotations.c.item_id,
    _annotations.c.id,
    _annotations.c.labels,
    _annotations.c.flag,
    _annotations.c.comment,
    _annotations.c.correction,
    _annotations.c.created_at,
    _annotations.c.updated_at,
).where(
    _annotations.c.item_id.in_(bindparam("item_ids", expanding=True)),
    _annotations.c.user_id == bindparam("user_id"),
)
_RELABEL = (
    update(_annotations)
    .where(_annotations.c.id == bindparam("annotation_id"))
    .values(
        labels=bindparam("labels"),
        flag=bindparam("flag"),
        comment=bindparam("comment"),
        correction=bindparam("correction"),
        updated_at=bindparam("now"),
    )
)
_BUMP = (
    update(_projects)
    .where(_projects.c.id == bindparam("project_id"))
    .values(label_events=_projects.c.label_events + bindparam("n"))
    .returning(_projects.c.label_events)
)


def label_rules(session: Session, project_id: int) -> Rules:
    """The project's labels and batch size, without loading the project (NotFound if none)."""
    row = connection(session).execute(_RULES, {"project_id": project_id}).first()
    if row is None:
        raise NotFound(f"project {project_id} not found")
    return Rules(*row)


def check_labels(project: LabelRules, labels: list[str]) -> list[str]:
    """Return the labels if they fit the project (one known label, or a set of them), each
    spelled as the project spells it: a decomposed "é" matches the composed one (NFC)."""
    labels = [_known_label(project.labels, label) for label in labels]
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


def _known_label(known: list[str], label: str) -> str:
    """``label``, or the project's label it is in another Unicode normal form (NFC compared)."""
    if label in known:
        return label
    wanted = unicodedata.normalize("NFC", label)
    return next((k for k in known if unicodedata.normalize("NFC", k) == wanted), label)


def submit(
    session: Session,
    project: LabelRules,
    user: HasId,
    *,
    item_id: int,
    labels: list[str],
    doubt: Doubt = NO_DOUBT,
    correction: str | None = None,
) -> tuple[Stored, bool]:
    """Store ``user``'s label(s) for an item; returns the annotation and whether it is new.

    A second submit by the same annotator replaces the first; one with the same labels
    changes nothing (a retry). The item's lease is settled, the project's label counter
    bumped, and a training run queued when a batch of new labels is complete.

    The lease does not gate the submit: a label sent after the caller's lease expired is
    still stored as the caller's own annotation, even if the item went to someone else
    meanwhile (who may then label it too; each annotator has at most one row per item).
    A ``doubt`` (flag, comment) and a translation review's ``correction`` are stored with
    the label and replaced with it.
    """
    entries = [(item_id, labels)]
    extras = [(doubt, correction)]
    return _submit(session, project, user, entries, extras, where=lambda _: "")[0]


MAX_BULK = 1000  # annotations per bulk submit


def submit_many(
    session: Session,
    project: LabelRules,
    user: HasId,
    entries: Sequence[tuple[int, list[str]]],
    doubts: Sequence[Doubt] | None = None,
    corrections: Sequence[str | None] | None = None,
) -> list[tuple[Stored, bool]]:
    """Store several labels of ``user`` at once, all or none: as :func:`submit` for each
    ``(item_id, labels)``, in order, in the caller's transaction; ``doubts`` and
    ``corrections`` (one per entry) go with them.

    Every entry is checked before anything is written; the first bad one raises Invalid or
    NotFound with a message that starts ``annotations[k]:`` (its index in ``entries``).
    """
    if not 1 <= len(entries) <= MAX_BULK:
        raise Invalid(f"send between 1 and {MAX_BULK} annotations, not {len(entries)}")
    first: dict[int, int] = {}
    for k, (item_id, _) in enumerate(entries):
        if (j := first.setdefault(item_id, k)) != k:
            raise Invalid(
                f"annotations[{k}]: item {item_id} is already in annotations[{j}]; "
                "send each item once"
            )
    doubts = list(doubts) if doubts is not None else [NO_DOUBT] * len(entries)
    fixes = list(corrections) if corrections is not None else [None] * len(entries)
    extras = list(zip(doubts, fixes, strict=True))
    return _submit(session, project, user, entries, extras, where=lambda k: f"annotations[{k}]: ")


def _submit(
    session: Session,
    project: LabelRules,
    user: HasId,
    entries: Sequence[tuple[int, list[str]]],
    extras: Sequence[tuple[Doubt, str | None]],
    *,
    where: Callable[[int], str],
) -> list[tuple[Stored, bool]]:
    """Check every entry, then store each, settle the leases and count the label events."""
    checked, extras = [], list(extras)
    for k, (item_id, labels) in enumerate(entries):
        try:
            checked.append((item_id, check_labels(project, labels)))
            extras[k] = (extras[k][0], check_correction(project, extras[k][1]))
        except Invalid as exc:
            raise Invalid(where(k) + exc.message) from None
    entries = checked
    conn = connection(session)
    item_ids = [item_id for item_id, _ in entries]
    _check_items(conn, project.id, item_ids, where)
    # Leases first: the insert's triggers lock the project's counter row until the commit.
    queue.settle(session, project.id, item_ids, user.id)
    keys = {"project_id": project.id, "user_id": user.id}
    results, changes = _store(conn, keys, entries, extras)
    if changes:
        events = conn.execute(_BUMP, {"project_id": project.id, "n": changes}).scalar_one()
        training.maybe_queue_run(
            session, project.id, label_events=events, batch_size=project.batch_size
        )
    return results


def _check_items(
    conn: Connection, project_id: int, item_ids: list[int], where: Callable[[int], str]
) -> None:
    """NotFound for the first item that is not in the project."""
    if len(item_ids) == 1:  # the common case: no expanding IN to render (~8 % of a submit)
        found = conn.scalars(_ITEM_IN_PROJECT, {"item_id": item_ids[0], "project_id": project_id})
    else:
        found = conn.scalars(_ITEMS_IN_PROJECT, {"item_ids": item_ids, "project_id": project_id})
    present = set(found)
    for k, item_id in enumerate(item_ids):
        if item_id not in present:
            raise NotFound(f"{where(k)}item {item_id} not found in project {project_id}")


def _store(
    conn: Connection,
    keys: dict[str, Any],
    entries: Sequence[tuple[int, list[str]]],
    extras: Sequence[tuple[Doubt, str | None]],
) -> tuple[list[tuple[Stored, bool]], int]:
    """Insert or replace the user's annotations; returns each (annotation, whether new) in
    order, and how many labels changed (a changed flag, comment or correction alone is no
    label event).

    One INSERT for all (its rows go to the database as one multi-row statement), which does
    nothing for an item the user already labelled (earlier, or in a concurrent submit that
    won the race): those rows are then read and replaced where the labels differ.
    """
    now = utcnow()
    rows = [
        dict(keys, item_id=item_id, labels=labels, source="human", created_at=now, updated_at=now)
        | {"flag": doubt.flag, "comment": doubt.comment, "correction": correction}
        for (item_id, labels), (doubt, correction) in zip(entries, extras, strict=True)
    ]
    # A list of one row runs as a plain execute; of more, as one multi-row INSERT.
    new_ids: dict[int, int] = dict(
        conn.execute(_insert_new(conn.dialect.name), rows).tuples().all()
    )
    rest = [item_id for item_id, _ in entries if item_id not in new_ids]
    mine = {}
    if rest:
        mine = {r.item_id: r for r in conn.execute(_MINE, {**keys, "item_ids": rest})}
    results, relabels, changed = [], [], 0
    for (item_id, labels), (doubt, fix) in zip(entries, extras, strict=True):
        if item_id in new_ids:
            new = Stored(new_ids[item_id], item_id, labels, now, now, doubt, fix)
            results.append((new, True))
            continue
        old = mine[item_id]
        updated = old.updated_at
        same = Doubt(old.flag, old.comment) == doubt and old.correction == fix
        if old.labels != labels or not same:
            changed += old.labels != labels
            relabels.append(
                {"annotation_id": old.id, "labels": labels, "now": now}
                | {"flag": doubt.flag, "comment": doubt.comment, "correction": fix}
            )
            updated = now
        stored = Stored(old.id, item_id, labels, old.created_at, updated, doubt, fix)
        results.append((stored, False))
    if relabels:
        conn.execute(_RELABEL, relabels)
    return results, len(new_ids) + changed


@cache
def _insert_new(dialect: str) -> Insert:
    """INSERT ... ON CONFLICT (item, user) DO NOTHING RETURNING item_id, id."""
    insert: postgresql.Insert | sqlite.Insert = (
        postgresql if dialect == "postgresql" else sqlite
    ).insert(_annotations)
    return insert.on_conflict_do_nothing(
        index_elements=[_annotations.c.item_id, _annotations.c.user_id]
    ).returning(_annotations.c.item_id, _annotations.c.id)


def undo_last(session: Session, project: Project, user: User, *, lease_seconds: int) -> Item | None:
    """Withdraw ``user``'s most recent label in the project; the item is leased back to them.
    No new label: its count towards the retrain comes back (``take_back_label_event``)."""
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
    training.take_back_label_event(session, project.id)
    return item


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
