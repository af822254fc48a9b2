"""A training run's lifecycle, as conditional updates of its row: claim, heartbeat, fail, finish,
and recovery of runs whose worker stopped beating.

A run moves queued -> running (one per project: a partial unique index) -> succeeded or failed;
only a running run is touched, so a run declared lost cannot be finished by its old worker.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Update, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db import Database
from app.models import ModelVersion, RunStatus, TrainingRun
from app.models.base import utcnow
from app.training.service import queue_run


def claim_next(session: Session, worker: str) -> int | None:
    """Move the oldest claimable queued run to running; returns its id, or None.

    The conditional UPDATE makes the claim atomic between workers, and the partial unique
    index on running runs refuses a second concurrent run of the same project.
    """
    busy = select(TrainingRun.project_id).where(TrainingRun.status == RunStatus.RUNNING)
    candidates = session.scalars(
        select(TrainingRun.id)
        .where(TrainingRun.status == RunStatus.QUEUED, TrainingRun.project_id.not_in(busy))
        .order_by(TrainingRun.id)
        .limit(10)
    ).all()
    now = utcnow()
    for run_id in candidates:
        try:
            with session.begin_nested():
                claimed = _rowcount(
                    session,
                    update(TrainingRun)
                    .where(TrainingRun.id == run_id, TrainingRun.status == RunStatus.QUEUED)
                    .values(
                        status=RunStatus.RUNNING, started_at=now, heartbeat_at=now, worker=worker
                    ),
                )
        except IntegrityError:
            continue
        if claimed == 1:
            return run_id
    return None


def _rowcount(session: Session, statement: Update) -> int:
    """Rows an UPDATE matched (a DML statement's result is a cursor result)."""
    return cast(CursorResult[Any], session.execute(statement)).rowcount


def heartbeat(session: Session, run_id: int) -> None:
    session.execute(
        update(TrainingRun)
        .where(TrainingRun.id == run_id, TrainingRun.status == RunStatus.RUNNING)
        .values(heartbeat_at=utcnow())
    )


def fail_run(session: Session, run_id: int, error: str) -> None:
    session.execute(
        update(TrainingRun)
        .where(TrainingRun.id == run_id, TrainingRun.status == RunStatus.RUNNING)
        .values(status=RunStatus.FAILED, error=error[:4000], finished_at=utcnow())
    )


def recover_stale(session: Session, *, stale_after: timedelta) -> list[int]:
    """Fail running runs whose worker stopped beating, and queue a fresh run for each project."""
    cutoff: datetime = utcnow() - stale_after
    stale = session.scalars(
        select(TrainingRun).where(
            TrainingRun.status == RunStatus.RUNNING, TrainingRun.heartbeat_at < cutoff
        )
    ).all()
    for run in stale:
        run.status = RunStatus.FAILED
        run.finished_at = utcnow()
        run.error = f"worker {run.worker} stopped responding (last heartbeat {run.heartbeat_at})"
        session.flush()
        queue_run(session, run.project_id, reason="recovery", trigger_events=run.trigger_events)
    return [run.id for run in stale]


def finish(
    db: Database,
    run_id: int,
    version_id: int | None,
    metrics: dict[str, float] | None,
    timings: dict[str, float],
) -> None:
    """Store the version's metrics (if a version was published) and mark the run succeeded."""
    with db.writer() as session, session.begin():
        if version_id is not None:
            session.get_one(ModelVersion, version_id).metrics = metrics
        run = session.get_one(TrainingRun, run_id)
        run.status = RunStatus.SUCCEEDED
        run.finished_at = utcnow()
        run.timings = dict(timings)
