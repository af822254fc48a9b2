"""The embedded worker claims a run queued in its own process without waiting for its poll."""

from __future__ import annotations

from app.config import Settings
from app.db import Database
from app.models import RunStatus, TrainingRun
from app.scheduler.worker import start_thread
from app.training import service as training
from tests.factories import create_project
from tests.runwatch import wait_for

POLL = 30.0  # the worker's poll: far longer than the test waits


def _status(db: Database, run_id: int) -> str:
    with db.reader() as session:
        return session.get_one(TrainingRun, run_id).status


def _queue(db: Database, project_id: int) -> int:
    with db.writer() as session, session.begin():
        return training.queue_run(session, project_id, reason="manual").id


def test_a_run_queued_in_this_process_wakes_the_idle_worker(
    db: Database, settings: Settings
) -> None:
    project = create_project(db, n_items=40, n_labeled=10)
    first = _queue(db, project.id)
    thread, stop = start_thread(db, settings.model_copy(update={"worker_poll_seconds": POLL}))
    try:
        wait_for(lambda: _status(db, first) == RunStatus.SUCCEEDED, "the first run ran", 60)
        second = _queue(db, project.id)  # the worker is idle now, for up to POLL seconds
        wait_for(lambda: _status(db, second) != RunStatus.QUEUED, "the run was claimed", 10)
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()  # stop is seen within the long poll too
