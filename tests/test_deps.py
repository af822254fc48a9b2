"""A Writing holds its thread write slot only while its transaction runs and commits."""

from __future__ import annotations

import threading

import anyio
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import Database
from app.deps import Writing, thread_slots
from app.models import Project
from tests.factories import create_project


def _name(db: Database, project_id: int) -> str:
    with db.reader() as session:
        return session.scalars(select(Project.name).where(Project.id == project_id)).one()


def _free(slots: threading.BoundedSemaphore) -> int:
    """How many slots are free now (taken and given back)."""
    taken = 0
    while slots.acquire(blocking=False):
        taken += 1
    for _ in range(taken):
        slots.release()
    return taken


def test_the_slot_is_free_again_once_the_work_has_committed(db: Database) -> None:
    project = create_project(db, labels=["a", "b"], n_items=1)
    slots = thread_slots(db)
    slot_count = _free(slots)  # one on SQLite, a few on PostgreSQL
    free: list[int] = []

    def rename(session: Session) -> str:
        free.append(_free(slots))  # the work runs in a slot
        session.get_one(Project, project.id).name = "renamed"
        return threading.current_thread().name

    thread = anyio.run(Writing(db.writer(), slots).run, rename)
    assert free == [slot_count - 1]
    assert thread != threading.current_thread().name  # on a worker thread
    assert _name(db, project.id) == "renamed"  # committed
    assert _free(slots) == slot_count  # and released


def test_work_that_raises_is_rolled_back_and_frees_the_slot(db: Database) -> None:
    project = create_project(db, labels=["a", "b"], n_items=1)
    slots = thread_slots(db)

    def fail(session: Session) -> None:
        session.get_one(Project, project.id).name = "half done"
        session.flush()
        raise RuntimeError("refused")

    with pytest.raises(RuntimeError, match="refused"):
        anyio.run(Writing(db.writer(), slots).run, fail)
    assert _name(db, project.id) == project.name
    assert _free(slots) == (1 if db.is_sqlite else 2)
