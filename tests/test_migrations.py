"""One Alembic history: up, down to base, up again, and no drift from the models."""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, select, text

from app.db import make_engine, open_database
from app.items.service import ImportOptions, import_records
from app.migrate import alembic_config, current_revision, downgrade, head_revision, upgrade
from app.models import Base, Item, Project
from app.projects.schemas import ProjectCreate
from app.projects.service import create_project


def test_upgrade_downgrade_upgrade_without_drift(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) == head_revision(db_url)
        downgrade(db_url, "base")
        assert current_revision(engine) is None
        upgrade(db_url)
        assert current_revision(engine) == head_revision(db_url)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
        command.check(alembic_config(db_url))  # raises if autogenerate would emit anything
    finally:
        engine.dispose()


# Revision 0014: text hashes stored as 16 bytes of binary. Three projects, one of each task
# shape, imported at head; down to 0013 and up again, every row stays and every hash is the
# one its revision computes, so imports still recognise what the project has.
SHAPES: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {
    "plain": ({}, [{"id": "a", "text": "héllo wörld", "label": "x"}, {"text": "second"}]),
    "fields": (
        {"task": "translation_review"},
        [{"source": "Hello", "translation": "Bonjour", "label": "x"}],
    ),
    "sentences": (
        {"task": "sentence_selection"},
        [{"id": "d1", "text": "One sentence here. And a second one!"}],
    ),
}


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _expected_hashes(conn: Connection) -> dict[int, str]:
    """Each item's full SHA-256 in hex, as revision 0013's code computed it."""
    documents = {i: _sha256(t) for i, t in conn.execute(text("SELECT id, text FROM documents"))}
    out = {}
    for item_id, body, fields, document_id, position in conn.execute(
        text("SELECT id, text, fields, document_id, position FROM items")
    ):
        fields = json.loads(fields) if isinstance(fields, str) else fields
        if fields:
            canonical = json.dumps(
                fields, sort_keys=True, ensure_ascii=False, separators=(",", ":")
            )
            out[item_id] = _sha256(canonical)
        elif document_id is not None:
            out[item_id] = _sha256(f"sentence:{documents[document_id]}:{position}")
        else:
            out[item_id] = _sha256(body)
    return out


def _import_shapes(db_url: str) -> dict[str, int]:
    db = open_database(db_url)
    try:
        pids = {}
        with db.writer() as session, session.begin():
            for name, (options, rows) in SHAPES.items():
                spec = ProjectCreate.model_validate({"name": name, "labels": ["x", "y"]} | options)
                project = create_project(session, spec)
                pids[name] = project.id
                data = "".join(json.dumps(r) + "\n" for r in rows).encode()
                import_records(session, project, io.BytesIO(data), ImportOptions("r.jsonl"))
        return pids
    finally:
        db.dispose()


def _reimport_counts(db_url: str, pids: dict[str, int]) -> dict[str, tuple[int, int]]:
    db = open_database(db_url)
    try:
        out = {}
        with db.writer() as session, session.begin():
            for name, (_, rows) in SHAPES.items():
                project = session.get_one(Project, pids[name])
                data = "".join(json.dumps(r) + "\n" for r in rows).encode()
                done = import_records(session, project, io.BytesIO(data), ImportOptions("r.jsonl"))
                out[name] = (done.imported, done.duplicates)
            session.rollback()
        return out
    finally:
        db.dispose()


def _snapshot(conn: Connection) -> tuple[Any, ...]:
    tables = ("items", "annotations", "documents", "projects")
    counts = tuple(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in tables)
    items = conn.execute(text("SELECT id, project_id, external_id, text FROM items ORDER BY id"))
    return counts, [tuple(row) for row in items]


def test_binary_hashes_go_down_and_up_keeping_rows_and_duplicates(db_url: str) -> None:
    pids = _import_shapes(db_url)
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            kept = _snapshot(conn)
            expected = _expected_hashes(conn)
        downgrade(db_url, "0013")
        with engine.connect() as conn:
            assert _snapshot(conn) == kept
            hashes = dict(conn.execute(text("SELECT id, text_hash FROM items")).all())
            assert hashes == expected
        upgrade(db_url)
        with engine.connect() as conn:
            assert _snapshot(conn) == kept
            hashes = dict(conn.execute(text("SELECT id, text_hash FROM items")).all())
            assert hashes == {i: bytes.fromhex(h[:32]) for i, h in expected.items()}
            assert _expected_hashes(conn) == expected  # documents untouched too
        # The items are recognised: a second import of each file adds nothing.
        again = _reimport_counts(db_url, pids)
        assert again == {"plain": (0, 2), "fields": (0, 1), "sentences": (0, 1)}
    finally:
        engine.dispose()


# Revision 0015: item times as integer milliseconds on SQLite, 31-bit random keys, external ids
# in a partial unique index. Down to 0014 and up again: the same times, the same pool order.
EXTERNAL_ID = "uq_items_project_id_external_id"


def _items_at_head(conn: Connection) -> dict[int, tuple[Any, int]]:
    rows = conn.execute(select(Item.id, Item.created_at, Item.random_key))
    return {i: (created, key) for i, created, key in rows}


def _pool_orders(conn: Connection) -> list[list[int]]:
    rows = conn.execute(text("SELECT project_id, id FROM items ORDER BY random_key, id")).all()
    return [[i for p, i in rows if p == pid] for pid in sorted({p for p, _ in rows})]


def _external_id_index(conn: Connection) -> tuple[bool, bool]:
    """(a unique constraint, a unique index WHERE external_id IS NOT NULL) on the ids."""
    found = inspect(conn)
    constraint = any(c["name"] == EXTERNAL_ID for c in found.get_unique_constraints("items"))
    where = [
        " ".join(map(str, i.get("dialect_options", {}).values()))
        for i in found.get_indexes("items")
        if i["name"] == EXTERNAL_ID and i["unique"]
    ]
    return constraint, any("external_id IS NOT NULL" in w for w in where)


def _as_of_0014(conn: Connection, at_head: dict[int, tuple[Any, int]]) -> dict[int, Any]:
    if conn.dialect.name == "sqlite":
        return {
            i: (t.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds"), k << 17)
            for i, (t, k) in at_head.items()
        }
    return {i: (t, k << 17) for i, (t, k) in at_head.items()}


def test_compact_item_columns_go_down_and_up_keeping_times_and_order(db_url: str) -> None:
    _import_shapes(db_url)
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            at_head, order = _items_at_head(conn), _pool_orders(conn)
            assert all(0 <= key < 2**31 for _, key in at_head.values())
            assert _external_id_index(conn) == (False, True)
        downgrade(db_url, "0014")
        with engine.begin() as conn:
            raw = conn.execute(text("SELECT id, created_at, random_key FROM items")).all()
            assert {i: (t, k) for i, t, k in raw} == _as_of_0014(conn, at_head)
            assert _pool_orders(conn) == order
            assert _external_id_index(conn) == (True, False)
            # A key stored before 0015 keeps its top 31 bits.
            low = 2**17 - 1
            conn.execute(text(f"UPDATE items SET random_key = random_key + {low}"))
        upgrade(db_url)
        with engine.connect() as conn:
            assert _items_at_head(conn) == at_head
            assert _pool_orders(conn) == order
            assert _external_id_index(conn) == (False, True)
    finally:
        engine.dispose()
