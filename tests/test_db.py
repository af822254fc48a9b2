"""Engine set-up: sessions of soft state commit without an fsync, and only they do."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, func, select

from app.db import Database
from app.models import Lease
from app.queue.service import next_items
from tests.factories import create_project, create_user


def test_soft_state_commits_skip_the_fsync_and_keep_the_rows(db: Database, backend: str) -> None:
    project = create_project(db, n_items=5)
    alice, _ = create_user(db, name="alice", role="annotator")
    seen: list[int] = []  # SQLite's synchronous setting as each commit begins

    def on_commit(conn: Any) -> None:
        if backend == "sqlite":
            cursor = conn.connection.dbapi_connection.execute("PRAGMA synchronous")
            seen.append(cursor.fetchone()[0])

    event.listen(db.engine, "commit", on_commit)
    for factory in (db.soft_writer, db.writer, db.soft_writer, db.soft_writer, db.writer):
        with factory() as session:
            batch = next_items(session, project, alice, limit=2, lease_seconds=60)
            session.commit()
        assert len(batch.items) == 2
    with db.reader() as session:
        assert session.scalar(select(func.count()).select_from(Lease)) == 2
    if backend == "sqlite":
        assert seen == [1, 2, 1, 1, 2]  # NORMAL (1) for soft state, FULL (2) otherwise
