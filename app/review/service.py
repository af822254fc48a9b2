"""The review queue: items whose annotators disagree, that an annotator flagged, whose label
the model strongly contradicts, or that someone sent to review by hand; a reviewer sets their
final label (an adjudication), which is kept beside the annotations, never written over them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.annotations.outcomes import item_outcomes
from app.annotations.service import check_labels
from app.audit.service import Actor, record
from app.errors import Invalid, NotFound
from app.items.documents import PlaceOut, places
from app.learning.consensus import Outcome
from app.models import Adjudication, Annotation, Item, LabelIssue, Project, ReviewRequest, User
from app.models.base import utcnow
from app.projects.service import options
from app.review.guesses import Guess, model_guesses
from app.training import service as training

# Why an item is in the queue, in the order a reviewer reads them.
REASONS = ("disagreement", "flagged", "suspicious", "requested")
SUSPICIOUS_RANKS = 50  # label issues below this rank (0: most suspicious) go to review
MAX_NOTE = 2000  # characters
MAX_LIMIT = 100


@dataclass(frozen=True)
class Vote:
    """One annotation of a reviewed item; ``annotator`` None for an imported label."""

    annotator: str | None
    labels: list[str]
    flag: str | None
    comment: str | None
    labelled_at: datetime
    correction: str | None = None  # translation review: the annotator's corrected translation


@dataclass(frozen=True)
class Entry:
    """An item in review: why, every label it was given, what they add up to, the model's guess."""

    item: Item
    reasons: list[str]
    votes: list[Vote]
    outcome: Outcome
    guess: Guess | None
    adjudication: Adjudication | None = None
    reviewer: str | None = None  # who adjudicated it
    place: PlaceOut | None = None  # a sentence's place in its document, as the queue gives it


def review_queue(
    session: Session, project: Project, *, limit: int = 20, after: int = 0
) -> list[Entry]:
    """The items waiting for review (not adjudicated yet), in item id order after ``after``."""
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(f"limit: between 1 and {MAX_LIMIT}, not {limit}")
    reasons = _reasons(session, project)
    done = set(
        session.scalars(select(Adjudication.item_id).where(Adjudication.project_id == project.id))
    )
    # A request sends an item back for a second decision even after an adjudication.
    waiting = (i for i in reasons if i not in done or "requested" in reasons[i])
    page = sorted(i for i in waiting if i > after)[:limit]
    return _entries(session, project, page, reasons)


def review_entry(session: Session, project: Project, item_id: int) -> Entry:
    """One item as the review queue shows it (adjudicated or not)."""
    _item_in(session, project, item_id)
    return _entries(session, project, [item_id], _reasons(session, project, [item_id]))[0]


def adjudicate(
    session: Session,
    project: Project,
    reviewer: User,
    *,
    item_id: int,
    labels: list[str],
    note: str | None,
    actor: Actor,
) -> Entry:
    """Set an item's final label(s); a second adjudication replaces the first.

    The annotations stay as they are. The project's label counter is bumped (a training run
    is queued when a batch is complete) so the model learns the reviewed label.
    """
    labels = check_labels(project, labels)
    note = (note or "").strip() or None
    if note is not None and len(note) > MAX_NOTE:
        raise Invalid(f"note: at most {MAX_NOTE} characters, not {len(note)}")
    _item_in(session, project, item_id)
    found = _reasons(session, project, [item_id]).get(item_id, [])
    reason = found[0] if found else "manual"
    _upsert(session, project.id, item_id, reviewer.id, labels, reason, note)
    session.execute(delete(ReviewRequest).where(ReviewRequest.item_id == item_id))  # answered
    detail = {"item_id": item_id, "labels": labels, "reason": reason}
    record(
        session,
        actor,
        "review.adjudicate",
        target=f"item {item_id}",
        project_id=project.id,
        detail=detail,
    )
    events = session.execute(
        update(Project)
        .where(Project.id == project.id)
        .values(label_events=Project.label_events + 1)
        .returning(Project.label_events)
    ).scalar_one()
    training.maybe_queue_run(
        session, project.id, label_events=events, batch_size=project.batch_size
    )
    return review_entry(session, project, item_id)


def request_review(
    session: Session, project: Project, user: User, item_ids: Iterable[int], *, actor: Actor
) -> int:
    """Send items (already checked to be the project's) to the review queue by hand; returns
    how many were not waiting there on request already."""
    ids = sorted(set(item_ids))
    if not ids:
        return 0
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(ReviewRequest)
        .values([{"item_id": i, "project_id": project.id, "user_id": user.id} for i in ids])
        .on_conflict_do_nothing(index_elements=[ReviewRequest.item_id])
        .returning(ReviewRequest.item_id)
    )
    added = len(session.execute(stmt).all())
    detail = {"items": len(ids), "added": added, "ids": ids[:20]}
    record(
        session, actor, "review.request", target=project.name, project_id=project.id, detail=detail
    )
    return added


def _item_in(session: Session, project: Project, item_id: int) -> None:
    found = session.scalar(select(Item.id).where(Item.id == item_id, Item.project_id == project.id))
    if found is None:
        raise NotFound(f"item {item_id} not found in project {project.id}")


def _upsert(
    session: Session,
    project_id: int,
    item_id: int,
    user_id: int,
    labels: list[str],
    reason: str,
    note: str | None,
) -> None:
    """Insert the adjudication, or replace the item's earlier one (which keeps the reason it
    was reviewed for): one statement, so two reviewers deciding at once leave the later
    decision rather than a unique-key error."""
    now = utcnow()
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    values = {"labels": labels, "user_id": user_id, "note": note, "updated_at": now}
    insert = dialect.insert(Adjudication).values(
        project_id=project_id, item_id=item_id, reason=reason, created_at=now, **values
    )
    session.execute(
        insert.on_conflict_do_update(index_elements=[Adjudication.item_id], set_=values)
    )
    session.expire_all()


def _reasons(
    session: Session, project: Project, item_ids: Iterable[int] | None = None
) -> dict[int, list[str]]:
    """Why each item (of ``item_ids``, or of the project) needs review, in ``REASONS`` order."""
    wanted = None if item_ids is None else list(item_ids)
    found: dict[str, set[int]] = {
        "disagreement": _disagreements(session, project, wanted),
        "flagged": _flagged(session, project.id, wanted),
        "suspicious": _suspicious(session, project.id, wanted),
        "requested": _requested(session, project.id, wanted),
    }
    out: dict[int, list[str]] = {}
    for reason in REASONS:
        for item_id in found[reason]:
            out.setdefault(item_id, []).append(reason)
    return out


def _disagreements(session: Session, project: Project, wanted: list[int] | None) -> set[int]:
    """Items with two or more labels that add up to no consensus."""
    several = (
        select(Annotation.item_id)
        .where(Annotation.project_id == project.id)
        .group_by(Annotation.item_id)
        .having(func.count() > 1)
    )
    if wanted is not None:
        several = several.where(Annotation.item_id.in_(wanted))
    candidates = list(session.scalars(several))
    if not candidates:
        return set()
    outcomes = item_outcomes(
        session,
        project.id,
        options(project),
        multi_label=project.multi_label,
        item_ids=candidates,
    )
    return {i for i, o in outcomes.items() if o.outcome.status == "disagreement"}


def _flagged(session: Session, project_id: int, wanted: list[int] | None) -> set[int]:
    stmt = select(Annotation.item_id).where(
        Annotation.project_id == project_id,
        or_(Annotation.flag.is_not(None), Annotation.comment.is_not(None)),
    )
    if wanted is not None:
        stmt = stmt.where(Annotation.item_id.in_(wanted))
    return set(session.scalars(stmt))


def _suspicious(session: Session, project_id: int, wanted: list[int] | None) -> set[int]:
    stmt = select(LabelIssue.item_id).where(
        LabelIssue.project_id == project_id, LabelIssue.rank < SUSPICIOUS_RANKS
    )
    if wanted is not None:
        stmt = stmt.where(LabelIssue.item_id.in_(wanted))
    return set(session.scalars(stmt))


def _requested(session: Session, project_id: int, wanted: list[int] | None) -> set[int]:
    stmt = select(ReviewRequest.item_id).where(ReviewRequest.project_id == project_id)
    if wanted is not None:
        stmt = stmt.where(ReviewRequest.item_id.in_(wanted))
    return set(session.scalars(stmt))


def _entries(
    session: Session, project: Project, item_ids: list[int], reasons: dict[int, list[str]]
) -> list[Entry]:
    """The review entries of ``item_ids``, in that order."""
    if not item_ids:
        return []
    items = {i.id: i for i in session.scalars(select(Item).where(Item.id.in_(item_ids)))}
    votes: dict[int, list[Vote]] = {i: [] for i in item_ids}
    rows = session.execute(
        select(Annotation, User.name)
        .outerjoin(User, User.id == Annotation.user_id)
        .where(Annotation.item_id.in_(item_ids))
        .order_by(Annotation.updated_at, Annotation.id)
    )
    for a, name in rows:
        votes[a.item_id].append(Vote(name, a.labels, a.flag, a.comment, a.updated_at, a.correction))
    adjudications = {
        a.item_id: (a, name)
        for a, name in session.execute(
            select(Adjudication, User.name)
            .outerjoin(User, User.id == Adjudication.user_id)
            .where(Adjudication.item_id.in_(item_ids))
        )
    }
    outcomes = item_outcomes(
        session, project.id, options(project), multi_label=project.multi_label, item_ids=item_ids
    )
    guesses = model_guesses(session, project, item_ids)
    placed = places(session, list(items.values()))
    pending = Outcome("pending", (), 0.0)
    return [
        Entry(
            item=items[i],
            reasons=reasons.get(i, []),
            votes=votes[i],
            outcome=outcomes[i].outcome if i in outcomes else pending,
            guess=guesses.get(i),
            adjudication=adjudications[i][0] if i in adjudications else None,
            reviewer=adjudications[i][1] if i in adjudications else None,
            place=placed.get(i),
        )
        for i in item_ids
    ]
