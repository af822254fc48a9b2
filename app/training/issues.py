"""After a run's cross-validation: replace its project's suspicious labels (``label_issues``).

Confident learning on the out-of-fold probabilities the metrics came from (no extra fits);
the review queue and the second-opinion share of the annotation queue read the rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.annotations.outcomes import ItemOutcome, item_outcomes
from app.db import Database
from app.items import removal
from app.learning.label_issues import rank_label_issues, suggested
from app.models import Item, LabelIssue, Project
from app.projects.service import options

if TYPE_CHECKING:  # the worker's types: the API reads the rows without scikit-learn
    from app.learning.metrics import CrossValidation
    from app.training.snapshot import Snapshot

MAX_ISSUES = 500  # rows kept per project: far more than a review session gets through


@dataclass(frozen=True)
class SuspiciousLabel:
    rank: int
    item_id: int
    text: str
    labels: list[str]  # the item's final labels now (empty if no longer final)
    suggested: list[str]
    score: float
    run_id: int


def suspicious_labels(
    session: Session, project: Project, *, limit: int, offset: int = 0
) -> list[SuspiciousLabel]:
    """The project's label issues, most suspicious first, with the items' current final labels."""
    rows = session.execute(
        select(LabelIssue, Item.text)
        .join(Item, Item.id == LabelIssue.item_id)
        .where(LabelIssue.project_id == project.id)
        .order_by(LabelIssue.rank)
        .limit(limit)
        .offset(offset)
    ).all()
    outcomes = item_outcomes(
        session,
        project.id,
        options(project),
        multi_label=project.multi_label,
        item_ids=[issue.item_id for issue, _ in rows],
    )
    return [
        SuspiciousLabel(
            rank=issue.rank,
            item_id=issue.item_id,
            text=text,
            labels=_final_labels(outcomes.get(issue.item_id)),
            suggested=list(issue.suggested),
            score=issue.score,
            run_id=issue.run_id,
        )
        for issue, text in rows
    ]


def _final_labels(found: ItemOutcome | None) -> list[str]:
    return list(found.outcome.labels) if found is not None and found.outcome.final else []


def replace(
    db: Database,
    run_id: int,
    snap: Snapshot,
    labeled_ids: np.ndarray,
    y: np.ndarray,
    cv: CrossValidation | None,
) -> int:
    """Rank the run's labelled items and make them the project's label issues, in one short
    write transaction; without cross-validation (too few labels) the old rows go.

    Args:
        labeled_ids: (n,) item ids, in the rows' order of ``y`` and ``cv.proba``.
        y: (n,) label indices or (n, k) 0/1 matrix.

    Returns:
        The number of rows written.
    """
    rows = _rows(run_id, snap, labeled_ids, y, cv) if cv is not None else []
    with db.writer() as session, session.begin():
        session.execute(delete(LabelIssue).where(LabelIssue.project_id == snap.project_id))
        rows = removal.present(session, rows)  # not the items deleted since the snapshot
        if rows:
            session.execute(LabelIssue.__table__.insert(), rows)
    return len(rows)


def _rows(
    run_id: int, snap: Snapshot, labeled_ids: np.ndarray, y: np.ndarray, cv: CrossValidation
) -> list[dict[str, Any]]:
    found = rank_label_issues(cv.proba, y)
    top, scores = found.indices[:MAX_ISSUES], found.scores[:MAX_ISSUES]
    guesses = suggested(cv.proba[top], multi_label=snap.multi_label)
    return [
        {
            "project_id": snap.project_id,
            "item_id": int(labeled_ids[row]),
            "run_id": run_id,
            "rank": rank,
            "score": float(score),
            "suggested": [snap.labels[i] for i in guess],
        }
        for rank, (row, score, guess) in enumerate(zip(top, scores, guesses, strict=True))
    ]
