"""Training runs watched, and kept queued, through the database: no requests to the server."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import select

from app.db import Database
from app.models import RunStatus, TrainingRun
from app.training import service as training

POLL_SECONDS = 0.05  # how often the retrain keeper and wait_for look at the database


def wait_for(condition: Callable[[], bool], what: str, timeout: float) -> None:
    """Poll ``condition`` every POLL_SECONDS until true; RuntimeError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting until {what}")
        time.sleep(POLL_SECONDS)


def run_status(db: Database, project_id: int) -> str:
    """'training', 'queued' or 'idle' (read from the database, not through the server)."""
    with db.reader() as session:
        return training.status(session, project_id)


def no_run_active(db: Database) -> bool:
    """Whether no run of any project is queued or running."""
    active = (RunStatus.QUEUED, RunStatus.RUNNING)
    with db.reader() as session:
        return session.scalar(select(TrainingRun.id).where(TrainingRun.status.in_(active))) is None


class RetrainKeeper:
    """Keeps a follow-up run queued for ``project_id`` while active (``retrain``), so the
    worker retrains it back to back; otherwise counts the polls that saw any run active."""

    def __init__(self, db: Database, project_id: int, *, retrain: bool) -> None:
        self.db, self.project_id, self.retrain = db, project_id, retrain
        self.busy_polls = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> RetrainKeeper:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _waiting(self) -> bool:
        with self.db.reader() as session:
            return training.queued_run(session, self.project_id) is not None

    def _loop(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            if not self.retrain:
                self.busy_polls += not no_run_active(self.db)
            elif not self._waiting():  # a write only when no run waits: not every poll
                with self.db.writer() as session, session.begin():
                    training.queue_run(session, self.project_id, reason="manual")


def training_overlap(db: Database, project_id: int, t0: float, t1: float) -> tuple[int, float]:
    """(runs finished within [t0, t1], seconds of [t0, t1] during which a run was running)."""
    with db.reader() as session:
        rows = session.execute(
            select(TrainingRun.started_at, TrainingRun.finished_at).where(
                TrainingRun.project_id == project_id, TrainingRun.started_at.is_not(None)
            )
        ).all()
    finished, busy = 0, 0.0
    for started, ended in rows:
        start = started.timestamp()
        end = ended.timestamp() if ended else datetime.now(UTC).timestamp()
        finished += t0 <= end <= t1
        busy += max(0.0, min(end, t1) - max(start, t0))
    return finished, busy
