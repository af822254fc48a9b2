"""A token look-up never waits for another writer to record a use (on SQLite it runs on
the event loop)."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from app.db import Database
from app.models import ApiToken
from app.users.tokens import use_token
from tests.factories import create_user


def _last_used(db: Database) -> object:
    with db.reader() as session:
        return session.scalars(select(ApiToken.last_used_at)).one()


def test_a_use_is_not_recorded_while_another_process_writes_and_nothing_waits(
    db: Database,
) -> None:
    if not db.is_sqlite:
        pytest.skip("SQLite's write lock: the look-up runs on the event loop there")
    user, token = create_user(db, name="ann", role="annotator")
    other = sqlite3.connect(make_url(str(db.engine.url)).database or "", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the lock (busy_timeout: 30 s)
    found: list[object] = []

    def look_up() -> None:
        with db.lookups.open() as lookup:
            found.append(use_token(lookup, token))

    try:
        thread = threading.Thread(target=look_up, daemon=True)
        thread.start()
        thread.join(timeout=10)
        assert not thread.is_alive(), "the look-up waited for the other writer"
    finally:
        other.execute("ROLLBACK")
        other.close()
    use = found[0]
    assert use is not None and use.user.id == user.id
    assert _last_used(db) is None  # skipped, not failed
    look_up()  # the lock is free: recorded now
    assert _last_used(db) is not None
