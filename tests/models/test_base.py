"""The column types every table shares: UTC datetimes, and the compact one of per-item rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text, update

from app.db import Database
from app.models import Item
from tests.factories import create_project

WHEN = datetime(2026, 12, 12, 9, 30, 15, 123456, tzinfo=UTC)


def _stored(db: Database, when: datetime) -> tuple[datetime, object]:
    """Stores ``when`` as an item's creation time; returns it read back and as stored."""
    project = create_project(db, n_items=1)
    with db.writer() as session, session.begin():
        item_id = session.scalars(select(Item.id).where(Item.project_id == project.id)).one()
        session.execute(update(Item).where(Item.id == item_id).values(created_at=when))
    with db.reader() as session:
        read = session.get_one(Item, item_id).created_at
        raw = session.execute(text(f"SELECT created_at FROM items WHERE id = {item_id}")).scalar()
    return read, raw


def test_item_times_are_integer_milliseconds_on_sqlite(db: Database) -> None:
    if not db.is_sqlite:
        pytest.skip("PostgreSQL keeps timestamptz")
    read, raw = _stored(db, WHEN)
    assert raw == (WHEN - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    assert read == WHEN.replace(microsecond=123000)
    assert read.tzinfo is UTC


def test_item_times_stay_timestamptz_on_postgresql(db: Database) -> None:
    if db.is_sqlite:
        pytest.skip("SQLite stores milliseconds")
    read, raw = _stored(db, WHEN)
    assert read == WHEN and raw == WHEN
    assert read.utcoffset() == timedelta(0)


def test_item_times_compare_in_sql(db: Database) -> None:
    """A datetime bound against the column is converted as stored values are."""
    _stored(db, WHEN)
    with db.reader() as session:
        before = session.scalar(select(Item.id).where(Item.created_at < WHEN + timedelta(1)))
        after = session.scalar(select(Item.id).where(Item.created_at > WHEN + timedelta(1)))
    assert before is not None and after is None


def test_a_naive_item_time_is_refused(db: Database) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        _stored(db, WHEN.replace(tzinfo=None))
