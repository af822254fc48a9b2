"""R3: a label submitted many times, at once or with an Idempotency-Key, is stored once."""

from __future__ import annotations

import threading

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from app.annotations.idempotency import RETENTION
from app.db import Database
from app.models import Annotation, IdempotencyKey, Item, Project, TrainingRun, User
from app.models.base import utcnow
from tests.factories import auth, create_project, create_user
from tests.security.conftest import Live

CLIENTS = 20


def _annotations(db: Database, project_id: int = 1) -> list[tuple[int, str, list[str]]]:
    """(item id, annotator, labels) of every human annotation of the project."""
    with db.reader() as session:
        rows = session.execute(
            select(Annotation.item_id, User.name, Annotation.labels)
            .join(User, User.id == Annotation.user_id)
            .where(Annotation.project_id == project_id)
            .order_by(Annotation.id)
        )
        return [(item_id, name, labels) for item_id, name, labels in rows]


def _label_events(db: Database, project_id: int) -> int:
    with db.reader() as session:
        return session.get_one(Project, project_id).label_events


def _concurrently(url: str, headers: dict[str, str], path: str, body: dict) -> list[httpx.Response]:
    """POST ``body`` from CLIENTS threads released together; every answer, or the failure."""
    barrier = threading.Barrier(CLIENTS)
    results: list[httpx.Response | BaseException] = []

    def post() -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=60) as api:
            barrier.wait()
            try:
                results.append(api.post(path, json=body))
            except BaseException as exc:  # noqa: BLE001 - reported below
                results.append(exc)

    threads = [threading.Thread(target=post) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    failures = [r for r in results if not isinstance(r, httpx.Response)]
    assert not failures, failures
    return [r for r in results if isinstance(r, httpx.Response)]


def test_twenty_identical_concurrent_posts_store_one_row(live: Live) -> None:
    token = live.user("annotator")
    project = create_project(live.db, name=f"r3-{token[-8:]}", n_items=5, batch_size=5)
    path = f"/api/v1/projects/{project.id}/annotations"
    with httpx.Client(base_url=live.url, headers=auth(token), timeout=60) as api:
        item = api.get(f"/api/v1/projects/{project.id}/queue?limit=1").json()["items"][0]
    responses = _concurrently(live.url, auth(token), path, {"item_id": item["id"], "label": "food"})
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * (CLIENTS - 1) + [201], [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert len(_annotations(live.db, project.id)) == 1
    assert _label_events(live.db, project.id) == 1  # the 19 repeats changed nothing
    with live.db.reader() as session:  # and so did not count towards a retrain
        runs = select(func.count()).where(TrainingRun.project_id == project.id)
        assert session.scalar(runs) == 0


def _post(client: TestClient, pid: int, token: str, body: dict, key: str | None = None):
    headers = auth(token) | ({"Idempotency-Key": key} if key else {})
    return client.post(f"/api/v1/projects/{pid}/annotations", json=body, headers=headers)


def test_same_key_and_body_replays_the_first_response(client: TestClient, db: Database) -> None:
    project = create_project(db, n_items=5)
    _, token = create_user(db, name="ann", role="annotator")
    first = _post(client, project.id, token, {"item_id": 1, "label": "food"}, key="k-1")
    assert first.status_code == 201
    # The label changes meanwhile; a retry of the first request still gets its own answer.
    assert _post(client, project.id, token, {"item_id": 1, "label": "sports"}).status_code == 200
    replay = _post(client, project.id, token, {"label": "food", "item_id": 1}, key="k-1")
    assert replay.status_code == 201 and replay.json() == first.json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert _annotations(db) == [(1, "ann", ["sports"])]
    assert _label_events(db, project.id) == 2


def test_same_key_with_another_body_is_422_naming_the_key(client: TestClient, db: Database) -> None:
    project = create_project(db, n_items=5)
    other = create_project(db, name="other", n_items=5)
    _, token = create_user(db, name="ann", role="annotator")
    assert _post(client, project.id, token, {"item_id": 1, "label": "food"}, key="k-1").is_success
    for pid, body in (
        (project.id, {"item_id": 1, "label": "sports"}),
        (project.id, {"item_id": 2, "label": "food"}),
        (other.id, {"item_id": 6, "label": "food"}),  # another project's path
    ):
        refused = _post(client, pid, token, body, key="k-1")
        assert refused.status_code == 422, refused.text
        assert (
            "Idempotency-Key 'k-1' was already used with a different request"
            in (refused.json()["detail"])
        )
    assert _annotations(db) == [(1, "ann", ["food"])]


def test_keys_are_scoped_per_user(client: TestClient, db: Database) -> None:
    project = create_project(db, n_items=5)
    _, ann = create_user(db, name="ann", role="annotator")
    _, bob = create_user(db, name="bob", role="annotator")
    assert (
        _post(client, project.id, ann, {"item_id": 1, "label": "food"}, key="k").status_code == 201
    )
    # bob's "k" is his own key: a new request, not ann's replay and not a mismatch
    bobs = _post(client, project.id, bob, {"item_id": 2, "label": "sports"}, key="k")
    assert bobs.status_code == 201 and bobs.json()["annotator"] == "bob"
    assert sorted(_annotations(db)) == [(1, "ann", ["food"]), (2, "bob", ["sports"])]


def test_a_failed_request_does_not_use_up_its_key(client: TestClient, db: Database) -> None:
    project = create_project(db, n_items=5)
    _, token = create_user(db, name="ann", role="annotator")
    failed = _post(client, project.id, token, {"item_id": 1, "label": "music"}, key="k")
    assert failed.status_code == 422 and "unknown label" in failed.text
    fixed = _post(client, project.id, token, {"item_id": 1, "label": "food"}, key="k")
    assert fixed.status_code == 201 and "Idempotent-Replayed" not in fixed.headers


def test_keys_expire_after_the_retention(client: TestClient, db: Database) -> None:
    project = create_project(db, n_items=5)
    _, token = create_user(db, name="ann", role="annotator")
    assert _post(client, project.id, token, {"item_id": 1, "label": "food"}, key="k").is_success
    with db.writer() as session, session.begin():
        session.execute(update(IdempotencyKey).values(created_at=utcnow() - RETENTION))
    again = _post(client, project.id, token, {"item_id": 2, "label": "food"}, key="k")
    assert again.status_code == 201  # a fresh request, not a mismatch
    with db.reader() as session:
        assert session.scalar(select(func.count()).select_from(IdempotencyKey)) == 1


def test_malformed_keys_are_422(client: TestClient, db: Database) -> None:
    project = create_project(db, n_items=5)
    _, token = create_user(db, name="ann", role="annotator")
    for key in ("x" * 256, "has space", "tab\tkey"):
        response = _post(client, project.id, token, {"item_id": 1, "label": "food"}, key=key)
        assert response.status_code == 422, key
        assert response.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    assert _annotations(db) == []


def test_concurrent_retries_with_one_key_write_once(live: Live) -> None:
    """The same keyed request, sent 20 times at once: one write, 20 identical answers."""
    token = live.user("annotator")
    project = create_project(live.db, name=f"r3-{token[-8:]}", n_items=5)
    with live.db.reader() as session:
        item = session.scalars(select(Item.id).where(Item.project_id == project.id)).first()
    path = f"/api/v1/projects/{project.id}/annotations"
    headers = auth(token) | {"Idempotency-Key": "retry-storm"}
    responses = _concurrently(live.url, headers, path, {"item_id": item, "label": "weather"})
    assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
    assert len({r.text for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == CLIENTS - 1
    assert [(i, labels) for i, _, labels in _annotations(live.db, project.id)] == [
        (item, ["weather"])
    ]
    assert _label_events(live.db, project.id) == 1
