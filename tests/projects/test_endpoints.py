"""Projects through the HTTP API: auth, roles, validation, counts."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.db import Database
from app.learning.options import DEFAULT_OPTIONS
from tests.factories import auth, create_user

BODY = {
    "name": "news",
    "labels": ["a", "b"],
    "multi_label": False,
    "strategy": "margin",
    "batch_size": 20,
}


def test_requires_a_bearer_token(client: TestClient) -> None:
    assert client.get("/api/v1/projects").status_code == 401
    response = client.get("/api/v1/projects", headers=auth("ll_wrong"))
    assert response.status_code == 401
    assert "invalid" in response.json()["detail"]


def test_admin_creates_and_annotator_is_refused(client: TestClient, db: Database) -> None:
    _, admin = create_user(db, name="ada", role="admin")
    _, annotator = create_user(db, name="bo", role="annotator")
    refused = client.post("/api/v1/projects", json=BODY, headers=auth(annotator))
    assert refused.status_code == 403
    created = client.post("/api/v1/projects", json=BODY, headers=auth(admin))
    assert created.status_code == 201
    project = created.json()
    assert project["id"] > 0 and project["labels"] == ["a", "b"]
    assert (project["n_items"], project["n_labeled"], project["n_unlabeled"]) == (0, 0, 0)
    # the creator (an instance admin) manages it; an annotator sees it once a member
    assert client.get("/api/v1/projects", headers=auth(annotator)).json() == []
    url = f"/api/v1/projects/{project['id']}"
    hidden = client.get(url, headers=auth(annotator))
    assert hidden.status_code == 404
    assert hidden.json()["detail"] == f"project {project['id']} not found"
    managers = client.get(f"{url}/members", headers=auth(admin)).json()
    assert [(m["user"], m["role"]) for m in managers] == [("ada", "manager")]
    added = client.post(f"{url}/members", json={"user": "bo"}, headers=auth(admin))
    assert added.status_code == 201 and added.json()["role"] == "annotator"
    listed = client.get("/api/v1/projects", headers=auth(annotator)).json()
    assert [p["name"] for p in listed] == ["news"]
    assert client.get(url, headers=auth(annotator)).json() == project


def test_rejects_bad_project_bodies(client: TestClient, db: Database) -> None:
    _, admin = create_user(db)
    for bad, word in [
        ({**BODY, "strategy": "psychic"}, "unknown strategy"),
        ({**BODY, "labels": ["a", "a"]}, "unique"),
        ({**BODY, "labels": []}, "labels"),
        ({**BODY, "batch_size": 0}, "batch_size"),
        ({**BODY, "multi_label": "no"}, "multi_label"),
        ({**BODY, "warm_up": -1}, "warm_up"),
        ({**BODY, "warm_up": 101}, "warm_up"),
    ]:
        response = client.post("/api/v1/projects", json=bad, headers=auth(admin))
        assert response.status_code == 422, bad
        assert word in response.text
    assert client.get("/api/v1/projects", headers=auth(admin)).json() == []


def test_duplicate_name_is_a_conflict(client: TestClient, db: Database) -> None:
    _, admin = create_user(db)
    assert client.post("/api/v1/projects", json=BODY, headers=auth(admin)).status_code == 201
    response = client.post("/api/v1/projects", json=BODY, headers=auth(admin))
    assert response.status_code == 409
    assert "already exists" in response.json()["detail"]


def test_unknown_project_is_404(client: TestClient, db: Database) -> None:
    _, admin = create_user(db)
    assert client.get("/api/v1/projects/999", headers=auth(admin)).status_code == 404


def test_admin_changes_strategy_and_batch_size(client: TestClient, db: Database) -> None:
    _, admin = create_user(db)
    pid = client.post("/api/v1/projects", json=BODY, headers=auth(admin)).json()["id"]
    patched = client.patch(
        f"/api/v1/projects/{pid}",
        json={"strategy": "entropy", "batch_size": 5},
        headers=auth(admin),
    )
    assert patched.status_code == 200
    assert (patched.json()["strategy"], patched.json()["batch_size"]) == ("entropy", 5)


def test_warm_up_defaults_to_the_default_options_and_can_be_changed(
    client: TestClient, db: Database
) -> None:
    _, admin = create_user(db)
    created = client.post("/api/v1/projects", json=BODY, headers=auth(admin)).json()
    assert created["warm_up"] == DEFAULT_OPTIONS.warm_up > 0
    pid = created["id"]
    patched = client.patch(f"/api/v1/projects/{pid}", json={"warm_up": 0}, headers=auth(admin))
    assert patched.status_code == 200 and patched.json()["warm_up"] == 0
    refused = client.patch(f"/api/v1/projects/{pid}", json={"warm_up": 500}, headers=auth(admin))
    assert refused.status_code == 422 and "warm_up" in refused.text
    assert client.get(f"/api/v1/projects/{pid}", headers=auth(admin)).json()["warm_up"] == 0


def test_labels_the_api_refuses_are_named_with_their_field(
    client: TestClient, db: Database
) -> None:
    _, admin = create_user(db)
    for labels, words in [
        (["ham", " Ham "], "'ham' and 'Ham' differ only in case"),
        (["spam", "ham", "spam"], "'spam' is listed twice"),
        (["spam"], "only 'spam' was given"),
        ([], "at least two labels; none were given"),
    ]:
        response = client.post(
            "/api/v1/projects", json={**BODY, "labels": labels}, headers=auth(admin)
        )
        assert response.status_code == 422, labels
        (problem,) = response.json()["detail"]
        assert problem["loc"] == ["body", "labels"] and words in problem["msg"], problem
    one = client.post(
        "/api/v1/projects",
        json={**BODY, "labels": ["urgent"], "multi_label": True},
        headers=auth(admin),
    )
    assert one.status_code == 201 and one.json()["labels"] == ["urgent"]
