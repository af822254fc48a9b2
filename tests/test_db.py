"""Engine set-up: commits of soft state skip the fsync, WAL checkpoints leave the commits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from app.db import Database, open_database
from app.models import Lease
from app.queue.service import next_items
from tests.factories import create_project, create_user
from tests.runwatch import wait_for


def _synchronous_at_commit(db: Database) -> list[int]:
    """SQLite's ``synchronous`` setting as each commit on ``db`` begins, in a list."""
    seen: list[int] = []

    def on_commit(conn: Any) -> None:
        cursor = conn.connection.dbapi_connection.execute("PRAGMA synchronous")
        seen.append(cursor.fetchone()[0])

    event.listen(db.engine, "commit", on_commit)
    return seen


def test_soft_state_commits_skip_the_fsync_and_keep_the_rows(db_url: str, backend: str) -> None:
    db = open_database(db_url, synchronous="full")
    try:
        project = create_project(db, n_items=5)
        alice, _ = create_user(db, name="alice", role="annotator")
        seen = _synchronous_at_commit(db) if backend == "sqlite" else []
        for factory in (db.soft_writer, db.writer, db.soft_writer, db.soft_writer, db.writer):
            with factory() as session:
                batch = next_items(session, project, alice, limit=2, lease_seconds=60)
                session.commit()
            assert len(batch.items) == 2
        with db.reader() as session:
            assert session.scalar(select(func.count()).select_from(Lease)) == 2
        if backend == "sqlite":
            assert seen == [1, 2, 1, 1, 2]  # NORMAL (1) for soft state, FULL (2) otherwise
        else:
            assert _setting(db.soft_writer, "synchronous_commit") == "off"
            assert _setting(db.writer, "synchronous_commit") == "on"
    finally:
        db.dispose()


def _setting(factory: sessionmaker[Session], name: str) -> str:
    with factory() as session:
        return str(session.execute(text(f"SHOW {name}")).scalar())


def _fill(db: Database, rows: int) -> None:
    with db.writer() as session:
        session.execute(text("CREATE TABLE blobs (body TEXT)"))
        session.commit()
    for _ in range(rows):
        with db.writer() as session:
            session.execute(text("INSERT INTO blobs VALUES (:b)"), {"b": "x" * 20_000})
            session.commit()


@pytest.mark.parametrize("background", [True, False])
def test_background_checkpoints_copy_the_wal_outside_the_commits(
    tmp_path: Path, background: bool
) -> None:
    """With the checkpointer no commit copies the WAL into the database file, the thread
    does; without it, commits do (SQLite's autocheckpoint at 1,000 pages)."""
    path = tmp_path / "wal.db"
    db = open_database(f"sqlite:///{path}", background_checkpoints=background)
    try:
        _fill(db, 300)  # ~6 MB of WAL: past the autocheckpoint threshold (~4 MB)
        with db.reader() as session:
            autocheckpoint = session.execute(text("PRAGMA wal_autocheckpoint")).scalar()
        if background:
            assert autocheckpoint == 0
            wait_for(lambda: path.stat().st_size > 5_000_000, "the WAL is checkpointed", 10)
        else:
            assert autocheckpoint == 1000 and db.checkpointer is None
            assert path.stat().st_size > 3_000_000  # the commits checkpointed
    finally:
        db.dispose()
