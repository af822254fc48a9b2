"""Training runs as database rows: queue (coalescing), status and history; the lifecycle of a
claimed run (claim, heartbeat, fail, finish, recover) is in ``app.training.runs``."""

from __future__ import annotations

import threading

from sqlalchemy import bindparam, event, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.audit.service import Actor, record
from app.db import connection
from app.models import ModelVersion, Project, RunStatus, TrainingRun


def published_model(session: Session, project: Project) -> ModelVersion | None:
    """The project's published model; None before the first one (a cold-start ranking is not)."""
    if project.current_model_id is None:
        return None
    version = session.get(ModelVersion, project.current_model_id)
    return version if version is not None and version.version > 0 else None


def model_history(session: Session, project_id: int, limit: int) -> list[ModelVersion]:
    """The project's last ``limit`` models (no cold-start rankings), oldest first."""
    rows = session.scalars(
        select(ModelVersion)
        .where(ModelVersion.project_id == project_id, ModelVersion.version > 0)
        .order_by(ModelVersion.version.desc())
        .limit(limit)
    ).all()
    return list(reversed(rows))


_runs = TrainingRun.__table__
# Built once: every label submit runs it (see app.queue.service).
_LAST_TRIGGER = select(func.max(_runs.c.trigger_events)).where(
    _runs.c.project_id == bindparam("project_id")
)


def maybe_queue_run(
    session: Session, project_id: int, *, label_events: int, batch_size: int
) -> None:
    """Queue a run once ``batch_size`` label events have happened since the last trigger."""
    last = connection(session).scalar(_LAST_TRIGGER, {"project_id": project_id})
    if label_events - (last or 0) >= batch_size:
        queue_run(session, project_id, reason="labels", trigger_events=label_events)


_projects = Project.__table__
# Built once: an undo runs it. The WHERE keeps label_events at or above the last trigger.
_TAKE_BACK = (
    update(_projects)
    .where(
        _projects.c.id == bindparam("project_id"),
        _projects.c.label_events > func.coalesce(_LAST_TRIGGER.scalar_subquery(), 0),
    )
    .values(label_events=_projects.c.label_events - 1)
)


def take_back_label_event(session: Session, project_id: int) -> bool:
    """Count one label event fewer, for a label that was withdrawn (an undo); returns whether
    it did.

    A withdrawn label is no new label, so the countdown to the next retrain gets back the step
    the label took, unless the count has reached a run's trigger since: that run is queued
    (it finds the label gone) and the counter never goes below the last trigger. The counter
    keeps no record per label: when others labelled after the withdrawn label and past a
    trigger, the step given back is one of theirs, and the next run comes one label later.
    """
    done = connection(session).execute(_TAKE_BACK, {"project_id": project_id})
    return bool(done.rowcount)


def queue_after_import(session: Session, project: Project, *, imported: int) -> None:
    """New items need a place in the ranking: queue a run (a cold-start ranking before a model).

    An import that added nothing can still have added seed labels: those count as label events.
    """
    if imported:
        queue_run(session, project.id, reason="import")
    else:
        maybe_queue_run(
            session, project.id, label_events=project.label_events, batch_size=project.batch_size
        )


# Set when a transaction of this process that queued a run commits: the worker embedded in
# the same process (``labelloop serve``) claims it at once instead of at its next poll
# (``worker_poll_seconds``). Other processes' workers still find it by polling.
RUN_QUEUED = threading.Event()


def _wake_worker(session: Session) -> None:
    RUN_QUEUED.set()


def queue_run(
    session: Session, project_id: int, *, reason: str, trigger_events: int | None = None
) -> TrainingRun:
    """Queue a run, or fold this trigger into the one already queued for the project; the
    commit of the caller's transaction wakes this process's worker (``RUN_QUEUED``)."""
    if not event.contains(session, "after_commit", _wake_worker):
        event.listen(session, "after_commit", _wake_worker)
    if trigger_events is None:
        trigger_events = (
            session.scalar(select(Project.label_events).where(Project.id == project_id)) or 0
        )
    queued = queued_run(session, project_id)
    if queued is None:
        run = TrainingRun(
            project_id=project_id,
            status=RunStatus.QUEUED,
            reason=reason,
            trigger_events=trigger_events,
            timings={},
        )
        try:
            with session.begin_nested():
                session.add(run)
                session.flush()
            return run
        except IntegrityError:  # another request queued one first: coalesce into it
            queued = queued_run(session, project_id)
            if queued is None:
                raise
    queued.trigger_events = max(queued.trigger_events, trigger_events)
    session.flush()
    return queued


def train_now(session: Session, project: Project, *, actor: Actor) -> TrainingRun:
    """Queue a run by hand (joining the queued one if any), recorded in the audit log."""
    run = queue_run(session, project.id, reason="manual")
    detail = {"run_id": run.id}
    record(session, actor, "train", target=project.name, project_id=project.id, detail=detail)
    return run


def queued_run(session: Session, project_id: int) -> TrainingRun | None:
    """The project's run waiting to be claimed, if any."""
    return session.scalar(
        select(TrainingRun).where(
            TrainingRun.project_id == project_id, TrainingRun.status == RunStatus.QUEUED
        )
    )


def has_queued(session: Session) -> bool:
    """Whether any run waits to be claimed (a cheap read for idle workers)."""
    return (
        session.scalar(
            select(TrainingRun.id).where(TrainingRun.status == RunStatus.QUEUED).limit(1)
        )
        is not None
    )


def status(session: Session, project_id: int) -> str:
    """'training' while a run is running, 'queued' while one waits, else 'idle'."""
    states = set(
        session.scalars(
            select(TrainingRun.status).where(
                TrainingRun.project_id == project_id,
                TrainingRun.status.in_([RunStatus.QUEUED, RunStatus.RUNNING]),
            )
        )
    )
    if RunStatus.RUNNING in states:
        return "training"
    return "queued" if RunStatus.QUEUED in states else "idle"


def list_runs(session: Session, project_id: int, *, limit: int = 50) -> list[TrainingRun]:
    return list(
        session.scalars(
            select(TrainingRun)
            .where(TrainingRun.project_id == project_id)
            .order_by(TrainingRun.id.desc())
            .limit(limit)
        )
    )
