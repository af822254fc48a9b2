"""Submitting labels through the API: create, replace, validation, project scoping."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.db import Database
from app.models import Annotation, Lease, Project, RunStatus, TrainingRun
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
        lease = session.get_one(Lease, (item["id"], 0))
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


def _state(db: Database, project_id: int) -> tuple[int, int, int]:
    """(annotations, label events, queued training runs) of the project."""
    with db.reader() as session:
        return (
            session.scalar(select(func.count()).where(Annotation.project_id == project_id)) or 0,
            session.get_one(Project, project_id).label_events,
            session.scalar(
                select(func.count()).where(
                    TrainingRun.project_id == project_id, TrainingRun.status == RunStatus.QUEUED
                )
            )
            or 0,
        )


def test_bulk_labels_in_order_new_and_replaced(client: TestClient, db: Database) -> None:
    project = create_project(db, n_items=10, batch_size=3)
    _, token = create_user(db, name="ann", role="annotator")
    first, second, third = (i["id"] for i in _queue(client, project.id, token, 3))
    url = f"/api/v1/projects/{project.id}/annotations"
    assert client.post(
        url, json={"item_id": second, "label": "food"}, headers=auth(token)
    ).is_success
    assert _state(db, project.id) == (1, 1, 0)
    body = {
        "annotations": [
            {"item_id": third, "label": "sports"},
            {"item_id": second, "label": "weather"},
            {"item_id": first, "label": "food"},
        ]
    }
    response = client.post(f"{url}/bulk", json=body, headers=auth(token))
    assert response.status_code == 200, response.text
    out = response.json()
    assert (out["created"], out["replaced"]) == (2, 1)
    assert [(a["item_id"], a["label"], a["annotator"]) for a in out["annotations"]] == [
        (third, "sports", "ann"),
        (second, "weather", "ann"),
        (first, "food", "ann"),
    ]
    # three label events on top of the first: a batch of 3 is complete, one run queued
    assert _state(db, project.id) == (3, 4, 1)
    with db.reader() as session:
        stored = dict(
            session.execute(
                select(Annotation.item_id, Annotation.labels).where(
                    Annotation.project_id == project.id
                )
            ).all()
        )
        settled = session.scalars(select(Lease.expires_at).where(Lease.item_id.in_(stored)))
        assert set(settled) == {SETTLED}
    assert stored == {third: ["sports"], second: ["weather"], first: ["food"]}
    served = {i["id"] for i in _queue(client, project.id, token, 10)}
    assert not served & {first, second, third}


def test_bulk_refuses_the_whole_request_naming_the_entry(client: TestClient, db: Database) -> None:
    project = create_project(db, n_items=6)
    other = create_project(db, name="other", n_items=2)
    _, token = create_user(db, name="ann", role="annotator")
    a, b, c = (i["id"] for i in _queue(client, project.id, token, 3))
    foreign = _queue(client, other.id, token, 1)[0]["id"]
    url = f"/api/v1/projects/{project.id}/annotations/bulk"

    def post(*entries: dict) -> tuple[int, object]:
        response = client.post(url, json={"annotations": list(entries)}, headers=auth(token))
        return response.status_code, response.json()["detail"]

    ok = {"item_id": a, "label": "food"}
    assert post(ok, {"item_id": b, "label": "food"}, {"item_id": c, "label": "music"}) == (
        422,
        "annotations[2]: unknown label 'music'; the project's labels are: "
        + ", ".join(project.labels),
    )
    status, detail = post(ok, {"item_id": foreign, "label": "food"})
    assert (status, detail) == (
        404,
        f"annotations[1]: item {foreign} not found in project {project.id}",
    )
    status, detail = post(ok, {"item_id": b, "label": "food"}, {"item_id": a, "label": "sports"})
    assert status == 422
    assert detail == f"annotations[2]: item {a} is already in annotations[0]; send each item once"
    status, detail = post(ok, {"item_id": b, "labels": ["food", "sports"]})
    assert status == 422 and str(detail).startswith("annotations[1]: this project is single-label")
    status, detail = post()
    assert status == 422 and detail[0]["loc"] == ["body", "annotations"]
    status, detail = post(*[ok] * 1001)
    assert status == 422 and "at most 1000" in detail[0]["msg"]
    status, detail = post(ok, {"item_id": b})
    assert status == 422 and detail[0]["loc"][:3] == ["body", "annotations", 1]
    assert _state(db, project.id) == (0, 0, 0)  # nothing stored by any of them


def test_bulk_with_an_idempotency_key_replays(client: TestClient, db: Database) -> None:
    project = create_project(db, n_items=4)
    _, token = create_user(db, name="ann", role="annotator")
    a, b = (i["id"] for i in _queue(client, project.id, token, 2))
    url = f"/api/v1/projects/{project.id}/annotations/bulk"
    body = {"annotations": [{"item_id": a, "label": "food"}, {"item_id": b, "label": "sports"}]}
    headers = {**auth(token), "Idempotency-Key": "bulk-1"}
    first = client.post(url, json=body, headers=headers)
    again = client.post(url, json=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json() and first.json()["created"] == 2
    assert _state(db, project.id)[:2] == (2, 2)
    other = {"annotations": [{"item_id": a, "label": "weather"}]}
    assert client.post(url, json=other, headers=headers).status_code == 422
