"""One Alembic history: up, down to base, up again, and no drift from the models."""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text

from app.db import make_engine, open_database
from app.items.service import ImportOptions, import_records
from app.migrate import alembic_config, current_revision, downgrade, head_revision, upgrade
from app.models import Base, Project
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
