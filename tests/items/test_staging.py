"""Staging an import into a project that was empty when it began, while another import adds
items: the staged rows are never probed against the project, so publishing must catch the
texts and ids that arrived meanwhile (a text skipped as a repeat, an id refused, nothing
half-written)."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import Database
from app.errors import Invalid
from app.items import staging
from app.items.service import ImportOptions, ImportResult, Stager, Target, publish
from app.models import Item, Project
from tests.factories import create_project, import_jsonl

CSV = b"id,text,label\na1,the first staged text,\na2,the second staged text,sports\n"


def _import_while(
    db: Database, project: Project, meanwhile: list[dict[str, object]]
) -> ImportResult:
    """Stage CSV into ``project`` on a connection of its own (as an import job does), let
    another import add ``meanwhile``, then publish in one write transaction."""
    with db.engine.connect() as conn:
        with conn.begin():
            staging.create(conn)
        try:
            stager = Stager(conn, Target.of(project))
            options = ImportOptions(filename="rows.csv")
            for _ in stager.stage(io.BytesIO(CSV), options, transaction=conn.begin):
                pass
            with db.writer() as session, session.begin():
                import_jsonl(session, session.get_one(Project, project.id), meanwhile)
            conn.execution_options(sqlite_write=True)
            with conn.begin(), Session(bind=conn) as session:
                return publish(session, session.get_one(Project, project.id), stager)
        finally:
            if conn.in_transaction():
                conn.rollback()
            with conn.begin():
                staging.drop(conn)


def _texts(db: Database, project: Project) -> list[tuple[str | None, str]]:
    with db.reader() as session:
        rows = session.execute(
            select(Item.external_id, Item.text)
            .where(Item.project_id == project.id)
            .order_by(Item.id)
        )
        return [tuple(row) for row in rows]


def test_a_text_another_import_added_meanwhile_is_skipped_as_a_repeat(db: Database) -> None:
    project = create_project(db)
    result = _import_while(db, project, [{"id": "x", "text": "the first staged text"}])
    assert (result.imported, result.duplicates, result.labeled) == (1, 1, 1)
    assert _texts(db, project) == [("x", "the first staged text"), ("a2", "the second staged text")]


def test_an_id_another_import_added_meanwhile_refuses_the_whole_file(db: Database) -> None:
    project = create_project(db)
    with pytest.raises(Invalid, match="another import meanwhile"):
        _import_while(db, project, [{"id": "a2", "text": "some other text"}])
    assert _texts(db, project) == [("a2", "some other text")]
