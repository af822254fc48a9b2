"""The embedded worker claims a run queued in its own process without waiting for its poll,
and fails a run on an unexpected error with a sentence for people, the details in its log."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import insert

from app.config import Settings
from app.db import Database
from app.models import LabelIssue, RunStatus, TrainingRun
from app.scheduler.worker import INTERNAL_ERROR, start_thread
from app.training import jobs
from app.training import service as training
from tests.factories import create_project, queue_and_work
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


def test_an_unexpected_error_fails_the_run_with_a_sentence_and_logs_the_details(
    db: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A database error carries its SQL: the log gets it, the run's error a sentence."""
    project = create_project(db, n_items=40, n_labeled=10)

    def broken_insert(db: Database, settings: Settings, run_id: int) -> None:
        with db.writer() as session, session.begin():  # an item that does not exist
            session.execute(
                insert(LabelIssue).values(
                    project_id=project.id,
                    item_id=10**9,
                    run_id=run_id,
                    rank=0,
                    score=0.0,
                    suggested=[],
                )
            )

    monkeypatch.setattr(jobs, "execute_run", broken_insert)
    with caplog.at_level(logging.ERROR, logger="labelloop.worker"):
        run = queue_and_work(db, settings, project)
    assert run.status == RunStatus.FAILED
    assert run.error == INTERNAL_ERROR
    assert "INSERT INTO label_issues" in caplog.text and f"run {run.id} failed" in caplog.text
