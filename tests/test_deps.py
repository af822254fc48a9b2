"""A Writing holds its thread write slot only while its transaction runs and commits; on
SQLite it runs on the event loop when neither the slot nor the write lock is held."""

from __future__ import annotations

import sqlite3
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


@pytest.fixture
def on_sqlite(db: Database) -> tuple[Project, threading.BoundedSemaphore]:
    """A project and the process's thread write slots; inline writes are SQLite's only
    (PostgreSQL's statements are network round trips)."""
    if not db.is_sqlite:
        pytest.skip("inline writes are SQLite's")
    return create_project(db, labels=["a", "b"], n_items=1), thread_slots(db)


def test_an_inline_write_runs_on_the_event_loop_when_the_lock_is_free(
    db: Database, on_sqlite: tuple[Project, threading.BoundedSemaphore]
) -> None:
    project, slots = on_sqlite
    free: list[int] = []

    def rename(session: Session) -> str:
        free.append(_free(slots))
        session.get_one(Project, project.id).name = "renamed"
        return threading.current_thread().name

    thread = anyio.run(Writing(db.writer(), slots, inline=True).run, rename)
    assert thread == threading.current_thread().name  # the loop's: no hop
    assert free == [0]  # in the slot
    assert _name(db, project.id) == "renamed"
    assert _free(slots) == 1


def test_an_inline_write_waits_on_a_worker_thread_while_another_connection_writes(
    db: Database, on_sqlite: tuple[Project, threading.BoundedSemaphore]
) -> None:
    project, slots = on_sqlite
    calls: list[str] = []

    def rename(session: Session) -> str:
        calls.append(threading.current_thread().name)
        session.get_one(Project, project.id).name = f"{project.name}+"
        return threading.current_thread().name

    holder = sqlite3.connect(str(db.engine.url.database), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process's write transaction

    async def main() -> str:
        async with anyio.create_task_group() as tasks:
            done: list[str] = []

            async def write() -> None:
                done.append(await Writing(db.writer(), slots, inline=True).run(rename))

            tasks.start_soon(write)
            with anyio.fail_after(10):
                while len(calls) < 2:  # tried on the loop, then called again on a thread
                    await anyio.sleep(0.001)
            holder.rollback()  # reached: the loop ran while the worker thread waited
        return done[0]

    try:
        thread = anyio.run(main)
    finally:
        holder.close()
    loop = threading.current_thread().name
    assert calls[0] == loop and calls[1] != loop
    assert thread == calls[1]
    assert _name(db, project.id) == f"{project.name}+"  # written once
    assert _free(slots) == 1


def test_an_inline_write_waits_on_a_worker_thread_for_a_held_slot(
    db: Database, on_sqlite: tuple[Project, threading.BoundedSemaphore]
) -> None:
    project, slots = on_sqlite
    calls: list[str] = []

    def rename(session: Session) -> None:
        calls.append(threading.current_thread().name)
        session.get_one(Project, project.id).name = "renamed"

    async def main() -> None:
        slots.acquire()  # another request's transaction
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(Writing(db.writer(), slots, inline=True).run, rename)
            await anyio.sleep(0)  # it starts, finds the slot taken and hands over
            assert calls == []
            slots.release()

    anyio.run(main)
    assert len(calls) == 1 and calls[0] != threading.current_thread().name
    assert _name(db, project.id) == "renamed"
