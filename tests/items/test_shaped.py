"""Imports into the other task shapes: named fields mapped from columns, identity by every
field, corrections with their labels, and documents split into sentences with exact offsets."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.db import Database
from app.models import Annotation, Document, Item
from tests.factories import auth, create_user
from tests.items.test_import_jobs import _finished, _wait

DOC = (
    "Mr. Smith went to Washington. He said hi!  Then he left.\n\n"
    "A new paragraph starts here. Thank you. Thank you."
)


def _project(client: TestClient, token: str, **body: Any) -> int:
    created = client.post("/api/v1/projects", json={"name": "p"} | body, headers=auth(token))
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


def _import(
    client: TestClient, token: str, project_id: int, name: str, data: bytes, **form: str
) -> Any:
    return client.post(
        f"/api/v1/projects/{project_id}/imports",
        files={"file": (name, data, "application/octet-stream")},
        data=form,
        headers=auth(token),
    )


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def test_maps_columns_to_fields_and_keeps_corrections(client: TestClient, db: Database) -> None:
    _, admin = create_user(db, role="admin")
    pid = _project(client, admin, task="translation_review")
    rows = [
        {"src": "Hello", "mt": "Bonjour", "label": "ok"},
        {
            "src": "Good night",
            "mt": "Bonjour",
            "label": "mistranslation",
            "correction": "Bonne nuit",
        },
        {"src": "Hello", "mt": "Bonjour"},  # the same item again: skipped
    ]
    mapping = json.dumps({"source": "src", "translation": "mt"})
    done = _import(client, admin, pid, "r.jsonl", _jsonl(rows), fields=mapping)
    assert done.status_code == 201, done.text
    assert (done.json()["imported"], done.json()["duplicates"], done.json()["labeled"]) == (2, 1, 2)
    with db.reader() as session:
        items = session.scalars(select(Item).where(Item.project_id == pid).order_by(Item.id)).all()
        assert [i.fields for i in items] == [
            {"source": "Hello", "translation": "Bonjour"},
            {"source": "Good night", "translation": "Bonjour"},
        ]
        assert [i.text for i in items] == ["Bonjour", "Bonjour"]  # the primary field
        corrections = session.scalars(select(Annotation.correction).order_by(Annotation.id))
        assert list(corrections) == [None, "Bonne nuit"]


def test_csv_with_fields_named_as_columns(client: TestClient, db: Database) -> None:
    _, admin = create_user(db, role="admin")
    pid = _project(client, admin, labels=["good", "bad"], fields=["question", "answer"])
    data = b"question,answer,label\r\nWhy?,Because.,good\r\nHow?,Thus.,\r\n"
    done = _import(client, admin, pid, "qa.csv", data)
    assert done.status_code == 201, done.text
    with db.reader() as session:
        fields = session.scalars(select(Item.fields).where(Item.project_id == pid)).all()
    assert sorted(f["question"] for f in fields) == ["How?", "Why?"]


def test_a_missing_field_is_named_with_its_row_and_nothing_is_stored(
    client: TestClient, db: Database
) -> None:
    _, admin = create_user(db, role="admin")
    pid = _project(client, admin, task="translation_review")
    rows = [{"source": "a", "translation": "b"}, {"source": "c"}]
    refused = _import(client, admin, pid, "r.jsonl", _jsonl(rows))
    assert refused.status_code == 422
    assert refused.json()["detail"] == 'row 2 (line 2): missing field "translation"'
    csv = b"source,mt\r\na,b\r\n"
    header = _import(client, admin, pid, "r.csv", csv, fields='{"translation": "mt2"}')
    assert header.status_code == 422 and "translation" in header.json()["detail"]
    empty = _import(client, admin, pid, "r.csv", b"source,translation\r\na,\r\n")
    assert empty.status_code == 422
    assert empty.json()["detail"] == 'row 1 (line 2): field "translation" is empty'
    no_label = _import(
        client,
        admin,
        pid,
        "r.jsonl",
        _jsonl([{"source": "a", "translation": "b", "correction": "c"}]),
    )
    assert no_label.status_code == 422 and "correction needs a label" in no_label.text
    unknown = _import(client, admin, pid, "r.jsonl", _jsonl(rows[:1]), fields='{"src": "x"}')
    assert unknown.status_code == 422 and "no field 'src'" in unknown.text
    with db.reader() as session:
        assert session.scalars(select(Item.id).where(Item.project_id == pid)).all() == []


def test_corrections_only_for_translation_review(client: TestClient, db: Database) -> None:
    _, admin = create_user(db, role="admin")
    pid = _project(client, admin, labels=["a", "b"])
    data = _jsonl([{"text": "x", "label": "a"}])
    refused = _import(client, admin, pid, "r.jsonl", data, correction_field="fix")
    assert refused.status_code == 422 and "translation_review" in refused.text


def test_documents_split_into_sentences_that_reproduce_the_text(
    client: TestClient, db: Database
) -> None:
    _, admin = create_user(db, role="admin")
    pid = _project(client, admin, task="sentence_selection")
    docs = [{"id": "d1", "text": DOC}, {"id": "d2", "text": "Thank you. Short one"}]
    done = _import(client, admin, pid, "docs.jsonl", _jsonl(docs))
    assert done.status_code == 201, done.text
    assert (done.json()["documents"], done.json()["imported"]) == (2, 8)
    with db.reader() as session:
        for document in session.scalars(select(Document).order_by(Document.id)):
            sentences = session.scalars(
                select(Item).where(Item.document_id == document.id).order_by(Item.position)
            ).all()
            assert document.n_sentences == len(sentences)
            end = 0
            for position, item in enumerate(sentences):
                assert item.position == position
                assert document.text[item.start_offset : item.end_offset] == item.text
                assert not document.text[end : item.start_offset].strip()  # only whitespace
                end = item.end_offset
            assert not document.text[end:].strip()
        texts = session.scalars(select(Item.text).where(Item.document_id == 1)).all()
        assert "He said hi!" in texts and texts.count("Thank you.") == 2
    again = _import(client, admin, pid, "docs.jsonl", _jsonl(docs))
    assert (again.json()["imported"], again.json()["duplicates"]) == (0, 2)
    taken = _import(client, admin, pid, "d.jsonl", _jsonl([{"id": "d1", "text": "Other."}]))
    assert taken.status_code == 422 and "'d1' already exists" in taken.text
    labelled = _import(
        client, admin, pid, "d.jsonl", _jsonl([{"text": "New.", "label": "include"}])
    )
    assert labelled.status_code == 422 and "takes no label" in labelled.text


def test_background_jobs_read_documents(client: TestClient, db: Database) -> None:
    _, admin = create_user(db, role="admin")
    pid = _project(client, admin, task="sentence_selection")
    url = f"/api/v1/projects/{pid}/imports"
    files = {"file": ("d.jsonl", _jsonl([{"id": "d1", "text": DOC}]), "x")}
    started = client.post(url, params={"background": "true"}, files=files, headers=auth(admin))
    assert started.status_code == 202, started.text
    job = _wait(client, started.headers["Location"], admin, _finished)
    assert (job["status"], job["imported"]) == ("succeeded", 6)


def test_a_background_job_keeps_the_field_mapping(client: TestClient, db: Database) -> None:
    _, admin = create_user(db, role="admin")
    pid = _project(client, admin, task="translation_review")
    rows = [{"src": "Good night", "mt": "Bonjour", "label": "mistranslation", "fix": "Bonne nuit"}]
    started = client.post(
        f"/api/v1/projects/{pid}/imports",
        params={"background": "true"},
        files={"file": ("r.jsonl", _jsonl(rows), "x")},
        data={
            "fields": json.dumps({"source": "src", "translation": "mt"}),
            "correction_field": "fix",
        },
        headers=auth(admin),
    )
    assert started.status_code == 202, started.text
    job = _wait(client, started.headers["Location"], admin, _finished)
    assert (job["status"], job["imported"], job["labeled"]) == ("succeeded", 1, 1), job
    with db.reader() as session:
        item = session.scalars(select(Item).where(Item.project_id == pid)).one()
        assert item.fields == {"source": "Good night", "translation": "Bonjour"}
        assert session.scalars(select(Annotation.correction)).all() == ["Bonne nuit"]
