"""Submitting labels through the API: create, replace, validation, project scoping."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.db import Database
from app.models import Annotation, Lease
from app.queue.service import SETTLED
from tests.factories import auth, create_project, create_user


def _queue(client: TestClient, pid: int, token: str, limit: int = 3) -> list[dict]:
    response = client.get(f"/api/v1/projects/{pid}/queue?limit={limit}", headers=auth(token))
    assert response.status_code == 200
    return response.json()["items"]


def _count(db: Database) -> int:
    with db.reader() as session:
        return session.scalar(select(func.count()).select_from(Annotation)) or 0


def test_label_then_replace(client: TestClient, db: Database) -> None:
    project = create_project(db, n_items=10)
    _, token = create_user(db, name="ann", role="annotator")
    item = _queue(client, project.id, token)[0]
    url = f"/api/v1/projects/{project.id}/annotations"
    first = client.post(url, json={"item_id": item["id"], "label": "food"}, headers=auth(token))
    assert first.status_code == 201
    assert first.json()["label"] == "food" and first.json()["annotator"] == "ann"
    again = client.post(url, json={"item_id": item["id"], "label": "sports"}, headers=auth(token))
    assert again.status_code == 200 and again.json()["label"] == "sports"
    assert _count(db) == 1
    with db.reader() as session:
        lease = session.get_one(Lease, item["id"])
        assert lease.expires_at == SETTLED  # settled: never offered again
    served = [i["id"] for i in _queue(client, project.id, token, 10)]
    assert item["id"] not in served


def test_rejects_unknown_label_and_foreign_items(client: TestClient, db: Database) -> None:
    project = create_project(db, n_items=5)
    other = create_project(db, name="other", n_items=5)
    _, token = create_user(db, name="ann", role="annotator")
    foreign = _queue(client, other.id, token)[0]["id"]
    own = _queue(client, project.id, token)[0]["id"]
    url = f"/api/v1/projects/{project.id}/annotations"
    unknown = client.post(url, json={"item_id": own, "label": "music"}, headers=auth(token))
    assert unknown.status_code == 422 and "unknown label 'music'" in unknown.json()["detail"]
    wrong = client.post(url, json={"item_id": foreign, "label": "food"}, headers=auth(token))
    assert wrong.status_code == 404 and f"item {foreign}" in wrong.json()["detail"]
    both = client.post(
        url, json={"item_id": own, "label": "food", "labels": ["food"]}, headers=auth(token)
    )
    assert both.status_code == 422
    bad_type = client.post(url, json={"item_id": str(own), "label": "food"}, headers=auth(token))
    assert bad_type.status_code == 422
    assert _count(db) == 0


def test_multi_label_annotations(client: TestClient, db: Database) -> None:
    project = create_project(db, n_items=5, multi_label=True)
    _, token = create_user(db, name="ann", role="annotator")
    own = _queue(client, project.id, token)[0]["id"]
    url = f"/api/v1/projects/{project.id}/annotations"
    ok = client.post(url, json={"item_id": own, "labels": ["food", "weather"]}, headers=auth(token))
    assert ok.status_code == 201 and ok.json()["labels"] == ["food", "weather"]
    dup = client.post(url, json={"item_id": own, "labels": ["food", "food"]}, headers=auth(token))
    assert dup.status_code == 422


def test_single_label_project_refuses_label_lists(client: TestClient, db: Database) -> None:
    project = create_project(db, n_items=5)
    _, token = create_user(db, name="ann", role="annotator")
    own = _queue(client, project.id, token)[0]["id"]
    url = f"/api/v1/projects/{project.id}/annotations"
    response = client.post(
        url, json={"item_id": own, "labels": ["food", "sports"]}, headers=auth(token)
    )
    assert response.status_code == 422 and "single-label" in response.json()["detail"]
