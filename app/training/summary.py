"""What both surfaces show of a project's model: the labels until the next retrain, whether
more labels still change its predictions (the stopping summary), its published versions."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.learning.stopping import StopPoint, stabilised
from app.models import ModelVersion, Project, TrainingRun
from app.training import audit
from app.training.details import ModelDetails
from app.training.service import model_history

STOP_KAPPA = 0.99  # Bloodgood & Vijay-Shanker's threshold
STOP_RUNS = 3


def labels_until_retrain(session: Session, project: Project) -> int:
    """Label events still to come before the next automatic retrain is queued (0: it is).

    The counter is read from the row, not from ``project``: a label stored in this transaction
    bumps it behind the ORM's back, and the screen would show one more than the API.
    """
    last = (
        select(func.max(TrainingRun.trigger_events))
        .where(TrainingRun.project_id == project.id)
        .scalar_subquery()
    )
    row = session.execute(
        select(Project.batch_size, Project.label_events, last).where(Project.id == project.id)
    ).one()
    batch_size, events, last_trigger = row
    return max(0, int(batch_size) - (int(events) - int(last_trigger or 0)))


@dataclass(frozen=True)
class Stopping:
    """Whether more labels still change the model (``app.learning.stopping``)."""

    kappa: float | None  # this model's against the previous one's (None for the first)
    kappa_history: list[float | None]  # of the last models, oldest first
    metric_history: list[float | None]  # their cross-validated macro-F1, oldest first
    threshold: float
    runs: int
    stabilised: bool
    message: str


def stopping(session: Session, project_id: int) -> Stopping:
    """The stopping summary of the project's last ``STOP_RUNS + 1`` models."""
    history = model_history(session, project_id, STOP_RUNS + 1)
    points = [
        StopPoint(kappa=ModelDetails.of(v).kappa, metric=(v.metrics or {}).get("macro_f1"))
        for v in history
    ]
    done = stabilised(points, threshold=STOP_KAPPA, runs=STOP_RUNS)
    if done:
        message = "predictions have stabilised"
    elif not points:
        message = "no model yet"
    else:
        message = "predictions are still changing"
    found = audit.figures(history[-1].metrics) if history else None
    if found is not None:  # what the model's answers are worth, from the random sample
        message = f"{message}; {audit.describe(found)}"
    return Stopping(
        kappa=points[-1].kappa if points else None,
        kappa_history=[p.kappa for p in points],
        metric_history=[p.metric for p in points],
        threshold=STOP_KAPPA,
        runs=STOP_RUNS,
        stabilised=done,
        message=message,
    )


def published_versions(session: Session, project_id: int) -> list[ModelVersion]:
    """Every model the project published (no cold-start rankings), oldest first."""
    return list(
        session.scalars(
            select(ModelVersion)
            .where(ModelVersion.project_id == project_id, ModelVersion.version > 0)
            .order_by(ModelVersion.version)
        )
    )
