"""The items table's indexes: what is in them, and that the queries they exist for use them."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from app.db import Database
from app.items import staging
from app.models import Item
from tests.factories import create_project, import_jsonl

EXTERNAL_ID = "uq_items_project_id_external_id"


def _import(db: Database, with_ids: int, without: int) -> int:
    project = create_project(db)
    rows = [{"id": f"e{i}", "text": f"with an id {i}"} for i in range(with_ids)]
    rows += [{"text": f"without one {i}"} for i in range(without)]
    with db.writer() as session, session.begin():
        import_jsonl(session, session.merge(project), rows)
    return project.id


def test_items_without_an_external_id_are_not_in_its_index(db: Database) -> None:
    if not db.is_sqlite:
        pytest.skip("SQLite's dbstat counts index entries")
    _import(db, with_ids=3, without=40)
    with db.engine.connect() as conn:
        entries = conn.execute(
            text("SELECT sum(ncell) FROM dbstat WHERE name = :n AND pagetype = 'leaf'"),
            {"n": EXTERNAL_ID},
        ).scalar()
    assert entries == 3


def test_looking_up_external_ids_uses_the_partial_index(db: Database) -> None:
    """The import's probe (``external_id IN json_each(...)`` on SQLite, ``= ANY(array)`` on
    PostgreSQL) implies ``external_id IS NOT NULL``, the index's condition."""
    project_id = _import(db, with_ids=3, without=3)
    with db.engine.connect() as conn:
        probe = select(Item.id).where(
            Item.project_id == project_id, staging.among(conn, Item.external_id, ["e1", "x"])
        )
        assert len(conn.execute(probe).all()) == 1
        sql = probe.compile(conn, compile_kwargs={"literal_binds": True})
        if db.is_sqlite:
            plan = " ".join(r[-1] for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
        else:
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = " ".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {sql}"))
    assert EXTERNAL_ID in plan
