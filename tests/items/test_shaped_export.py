"""Exports of the task shapes, and their round trips: an export imported into a new project of
the same shape gives back the items, fields, labels and corrections (and the same sentences)."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.db import Database
from app.models import Annotation, Item
from tests.factories import auth, create_user
from tests.items.test_shaped import DOC, _import, _jsonl, _project
from tests.review.conftest import shaped_in_review
from tests.web.shapes import PAIRS as SHOWN_PAIRS
from tests.web.shapes import translation_project

PAIRS = [
    {"source": "Hello", "translation": "Bonjour", "label": "ok"},
    {
        "source": "Good night",
        "translation": "Bonjour",
        "label": "mistranslation",
        "correction": "Bonne nuit, «ami»",
    },
    {"source": "=1+1", "translation": "Deux", "label": "omission", "correction": "Un et un"},
]


def _export(client: TestClient, token: str, pid: int, fmt: str) -> Any:
    return client.get(f"/api/v1/projects/{pid}/export?format={fmt}", headers=auth(token))


def _contents(db: Database, pid: int) -> list[tuple[Any, ...]]:
    """Each item's fields (or text), its labels and its correction, in import order."""
    with db.reader() as session:
        rows = session.execute(
            select(Item.fields, Item.text, Annotation.labels, Annotation.correction)
            .outerjoin(Annotation, Annotation.item_id == Item.id)
            .where(Item.project_id == pid)
            .order_by(Item.id)
        ).all()
    return [tuple(row) for row in rows]


def test_translation_review_round_trips_through_jsonl_and_csv(
    client: TestClient, db: Database
) -> None:
    _, admin = create_user(db, role="admin")
    pid = _project(client, admin, task="translation_review")
    assert _import(client, admin, pid, "p.jsonl", _jsonl(PAIRS)).status_code == 201
    for fmt in ("jsonl", "csv"):
        exported = _export(client, admin, pid, fmt)
        assert exported.status_code == 200
        if fmt == "jsonl":
            first = json.loads(exported.text.splitlines()[0])
            assert first["source"] == "Hello" and first["label_source"] == "import"
            assert "text" not in first and first["correction"] is None
        again = _project(client, admin, name=f"again-{fmt}", task="translation_review")
        back = _import(client, admin, again, f"e.{fmt}", exported.content)
        assert back.status_code == 201, back.text
        # The formula "=1+1" is exported with a quote in front (CSV injection), taken off again.
        assert _contents(db, again) == _contents(db, pid)


def test_multi_field_classification_round_trips(client: TestClient, db: Database) -> None:
    _, admin = create_user(db, role="admin")
    body = {"labels": ["good", "bad"], "fields": ["question", "answer"]}
    pid = _project(client, admin, **body)
    rows = [
        {"question": "Why?", "answer": "Because.", "label": "good"},
        {"question": "Why?", "answer": "No.", "label": "bad"},  # another item: another answer
    ]
    assert _import(client, admin, pid, "qa.jsonl", _jsonl(rows)).json()["imported"] == 2
    exported = _export(client, admin, pid, "csv")
    assert exported.text.splitlines()[0].startswith("item_id,external_id,question,answer,")
    again = _project(client, admin, name="again", **body)
    assert _import(client, admin, again, "e.csv", exported.content).status_code == 201
    assert _contents(db, again) == _contents(db, pid)


def test_triples_hold_the_corrections(client: TestClient, db: Database) -> None:
    _, admin = create_user(db, role="admin")
    pid = _project(client, admin, task="translation_review")
    _import(client, admin, pid, "p.jsonl", _jsonl(PAIRS))
    lines = [json.loads(line) for line in _export(client, admin, pid, "triples").text.splitlines()]
    assert [(t["source"], t["translation"], t["correction"]) for t in lines] == [
        ("Good night", "Bonjour", "Bonne nuit, «ami»"),
        ("=1+1", "Deux", "Un et un"),
    ]
    summaries = _export(client, admin, pid, "summaries")
    assert summaries.status_code == 422 and "sentence_selection" in summaries.text


def test_triples_hold_a_correction_only_while_its_label_is_the_final_one(
    client: TestClient, db: Database
) -> None:
    project = translation_project(db)
    votes = {"ann1": ("omission", "The dog sleeps."), "ann2": ("ok", None)}
    shaped = shaped_in_review(db, project, votes)
    _, admin = create_user(db, name="boss", role="admin")
    review = f"/api/v1/projects/{project.id}/review/{shaped.item_id}"

    def triples() -> list[Any]:
        exported = _export(client, admin, project.id, "triples").text
        return [json.loads(line) for line in exported.splitlines()]

    assert triples() == []  # a disagreement: no final label yet
    for final, expected in (("ok", []), ("omission", ["The dog sleeps."])):
        decided = client.put(review, json={"label": final}, headers=auth(shaped.tokens["rev"]))
        assert decided.status_code == 200, decided.text
        assert [t["correction"] for t in triples()] == expected, final
    (line,) = triples()
    assert (line["source"], line["label"]) == (SHOWN_PAIRS[0][0], "omission")


def test_summaries_give_the_included_sentences_and_import_back(
    client: TestClient, db: Database
) -> None:
    _, admin = create_user(db, role="admin")
    pid = _project(client, admin, task="sentence_selection")
    docs = [{"id": "d1", "text": DOC}, {"id": "d2", "text": "One. Two. Three."}]
    _import(client, admin, pid, "d.jsonl", _jsonl(docs))
    items = client.get(f"/api/v1/projects/{pid}/items?limit=100", headers=auth(admin)).json()
    by_text = {i["text"]: i["id"] for i in items["items"]}
    chosen = {"Three.": "include", "One.": "include", "Two.": "exclude", "He said hi!": "include"}
    body = {"annotations": [{"item_id": by_text[t], "label": lab} for t, lab in chosen.items()]}
    stored = client.post(f"/api/v1/projects/{pid}/annotations/bulk", json=body, headers=auth(admin))
    assert stored.status_code == 200, stored.text
    exported = _export(client, admin, pid, "summaries")
    summaries = [json.loads(line) for line in exported.text.splitlines()]
    assert [(s["id"], s["summary"], s["labelled"]) for s in summaries] == [
        ("d1", ["He said hi!"], 1),
        ("d2", ["One.", "Three."], 3),
    ]
    rows = _export(client, admin, pid, "jsonl").text.splitlines()
    placed = next(r for r in map(json.loads, rows) if r["text"] == "He said hi!")
    assert DOC[placed["start"] : placed["end"]] == placed["text"] == "He said hi!"
    assert (placed["document_external_id"], placed["position"]) == ("d1", 1)
    again = _project(client, admin, name="again", task="sentence_selection")
    assert _import(client, admin, again, "s.jsonl", exported.content).status_code == 201
    assert _sentences(db, again) == _sentences(db, pid)


def _sentences(db: Database, pid: int) -> list[tuple[Any, ...]]:
    with db.reader() as session:
        rows = session.execute(
            select(Item.text, Item.position, Item.start_offset, Item.end_offset)
            .where(Item.project_id == pid)
            .order_by(Item.id)
        ).all()
    return [tuple(row) for row in rows]
