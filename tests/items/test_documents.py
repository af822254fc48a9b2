"""The API shows every field of an item and a sentence's document: queue, item pages, and
the document route (guarded like every project route)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.db import Database
from tests.factories import add_member, auth, create_user
from tests.items.test_shaped import DOC, _import, _jsonl, _project


def test_queue_and_items_carry_fields(client: TestClient, db: Database) -> None:
    _, admin = create_user(db, role="admin")
    pid = _project(client, admin, task="translation_review")
    _import(client, admin, pid, "p.jsonl", _jsonl([{"source": "Hi", "translation": "Salut"}]))
    queue = client.get(f"/api/v1/projects/{pid}/queue", headers=auth(admin)).json()
    item = queue["items"][0]
    assert item["fields"] == {"source": "Hi", "translation": "Salut"}
    assert item["text"] == "Salut" and item["document"] is None
    page = client.get(f"/api/v1/projects/{pid}/items", headers=auth(admin)).json()
    assert page["items"][0]["fields"] == item["fields"]


def test_sentences_show_their_document(client: TestClient, db: Database) -> None:
    user, admin = create_user(db, role="admin")
    annotator, token = create_user(db, name="ann", role="annotator")
    pid = _project(client, admin, task="sentence_selection")
    add_member(db, pid, annotator, "annotator")
    _import(client, admin, pid, "d.jsonl", _jsonl([{"id": "d1", "text": DOC}]))
    queue = client.get(f"/api/v1/projects/{pid}/queue?limit=10", headers=auth(token)).json()
    place = queue["items"][0]["document"]
    assert place["external_id"] == "d1"
    assert DOC[place["start"] : place["end"]] == queue["items"][0]["text"]
    first = next(i for i in queue["items"] if i["document"]["position"] == 0)
    labelled = {"item_id": first["id"], "label": "include"}
    client.post(f"/api/v1/projects/{pid}/annotations", json=labelled, headers=auth(token))
    url = f"/api/v1/projects/{pid}/documents/{place['id']}"
    document = client.get(url, headers=auth(token)).json()
    assert document["text"] == DOC and document["external_id"] == "d1"
    sentences = document["sentences"]
    assert [s["position"] for s in sentences] == list(range(len(sentences)))
    assert sentences[0]["labels"] == ["include"] and sentences[1]["labels"] == []
    assert all(DOC[s["start"] : s["end"]] for s in sentences)
    other = _project(client, admin, name="other", task="sentence_selection")
    foreign = client.get(f"/api/v1/projects/{other}/documents/{place['id']}", headers=auth(admin))
    assert foreign.status_code == 404
    assert foreign.json()["detail"] == f"document {place['id']} not found in project {other}"
