"""Every labelled item's outcome: its annotations and adjudication, through the consensus rule.

One reader for training (which trains on final outcomes only), the review queue (which shows
the disagreements) and the export (which says how each row's label came about).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.learning.consensus import Outcome, consensus
from app.learning.options import QueryOptions
from app.models import Adjudication, Annotation, Item, Project


@dataclass(frozen=True)
class ItemOutcome:
    item_id: int
    outcome: Outcome
    votes: int  # annotations of the item
    audit: bool  # part of the audit sample: measured on, never trained on


def item_outcomes(
    session: Session,
    project_id: int,
    options: QueryOptions,
    *,
    multi_label: bool,
    item_ids: Iterable[int] | None = None,
) -> dict[int, ItemOutcome]:
    """The outcome of each labelled (or adjudicated) item of the project, in label order.

    An imported label (no annotator) is final on its own, whatever the overlap: it is the
    label the data came with (see `_imported_outcome` for a member who disagrees with it).
    ``item_ids`` limits the read to those items.
    """
    ann = select(Annotation.item_id, Annotation.user_id, Annotation.labels, Item.audit).join(
        Item, Item.id == Annotation.item_id
    )
    adj = select(Adjudication.item_id, Adjudication.labels, Item.audit).join(
        Item, Item.id == Adjudication.item_id
    )
    ann = ann.where(Annotation.project_id == project_id).order_by(
        Annotation.updated_at, Annotation.id
    )
    adj = adj.where(Adjudication.project_id == project_id)
    if item_ids is not None:
        wanted = list(item_ids)
        ann, adj = ann.where(Annotation.item_id.in_(wanted)), adj.where(Item.id.in_(wanted))
    votes: dict[int, list[list[str]]] = defaultdict(list)
    imported: dict[int, list[str]] = {}
    audit: dict[int, bool] = {}
    for item_id, user_id, labels, is_audit in session.execute(ann):
        votes[item_id].append(labels)
        audit[item_id] = is_audit
        if user_id is None:
            imported[item_id] = labels
    adjudicated = {}
    for item_id, labels, is_audit in session.execute(adj):
        adjudicated[item_id] = labels
        audit[item_id] = is_audit
        votes.setdefault(item_id, [])
    out = {}
    for item_id, item_votes in votes.items():
        final = adjudicated.get(item_id, imported.get(item_id))
        outcome = consensus(
            item_votes,
            overlap=options.overlap,
            min_agreement=options.min_agreement,
            multi_label=multi_label,
            adjudicated=final,
        )
        if item_id in imported and item_id not in adjudicated:
            outcome = _imported_outcome(imported[item_id], item_votes, multi_label=multi_label)
        out[item_id] = ItemOutcome(item_id, outcome, len(item_votes), audit[item_id])
    return out


@dataclass(frozen=True)
class FinalCounts:
    """The items of each final label, and the labelled items still without one."""

    by_label: dict[str, int]  # every label of the project, zeros included
    awaiting: int  # pending (too few labels for the overlap) or in disagreement


def final_label_counts(session: Session, project: Project, options: QueryOptions) -> FinalCounts:
    """Items counted by their final label, as training and the export take it (a multi-label
    item once per label), not annotations: three votes on one item count once."""
    outcomes = item_outcomes(session, project.id, options, multi_label=project.multi_label)
    by_label = dict.fromkeys(project.labels, 0)
    awaiting = 0
    for found in outcomes.values():
        awaiting += found.outcome.status in ("pending", "disagreement")
        for label in found.outcome.labels:
            if label in by_label:
                by_label[label] += 1
    return FinalCounts(by_label, awaiting)


def _imported_outcome(imported: list[str], votes: list[list[str]], *, multi_label: bool) -> Outcome:
    """An imported label's outcome: final while every member's label agrees with it.

    A member who labels the item otherwise puts it in disagreement, so a reviewer decides and
    training leaves it out meanwhile: the data's own label can be the wrong one (what the
    suspicious-label ranking looks for), and a person's correction must not be dropped in
    silence. Multi-label sets compare without order.
    """

    def key(labels: list[str]) -> tuple[str, ...]:
        return tuple(sorted(labels)) if multi_label else tuple(labels)

    given = key(imported)
    agreeing = sum(key(vote) == given for vote in votes)
    agreement = agreeing / len(votes) if votes else 1.0
    if agreeing < len(votes):
        return Outcome("disagreement", (), agreement)
    return Outcome("individual", tuple(imported), agreement)
