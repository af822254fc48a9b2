"""Run claiming under contention: exactly one claimant wins, a busy project waits."""

from __future__ import annotations

import threading

from app.db import Database
from app.training import runs
from app.training import service as training
from tests.factories import create_project


def _race(db: Database, n: int) -> list[int | None]:
    barrier = threading.Barrier(n)
    results: list[int | None] = []
    lock = threading.Lock()

    def claim(k: int) -> None:
        barrier.wait()
        with db.writer() as session, session.begin():
            won = runs.claim_next(session, f"w{k}")
        with lock:
            results.append(won)

    threads = [threading.Thread(target=claim, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_exactly_one_of_many_claimants_wins(db: Database) -> None:
    project = create_project(db)
    with db.writer() as session, session.begin():
        run_id = training.queue_run(session, project.id, reason="manual").id
    results = _race(db, 8)
    assert results.count(run_id) == 1
    assert results.count(None) == 7


def test_a_project_with_a_running_run_is_not_claimed_again(db: Database) -> None:
    project = create_project(db)
    with db.writer() as session, session.begin():
        training.queue_run(session, project.id, reason="manual")
        running = runs.claim_next(session, "first")
        assert running is not None
        follow_up = training.queue_run(session, project.id, reason="manual").id
    assert _race(db, 4) == [None] * 4
    with db.writer() as session, session.begin():
        runs.fail_run(session, running, "done")  # the running one ends
    results = _race(db, 4)
    assert results.count(follow_up) == 1


def test_queue_run_coalesces(db: Database) -> None:
    project = create_project(db)
    with db.writer() as session, session.begin():
        first = training.queue_run(session, project.id, reason="manual", trigger_events=3)
        second = training.queue_run(session, project.id, reason="labels", trigger_events=9)
        assert first.id == second.id and second.trigger_events == 9
        assert training.status(session, project.id) == "queued"
