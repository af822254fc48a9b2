"""Query options over both surfaces: the API and the settings form accept and refuse the same
values, diversity_method can be set, and a project stored before an option keeps its meaning."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.models import Project
from app.users.service import create_user as create_web_user
from tests.factories import auth, create_project, create_user

FORM = {"strategy": "margin", "batch_size": "10"}


@pytest.fixture
def web(settings: Settings, db: Database) -> Iterator[TestClient]:
    with db.writer() as session, session.begin():
        create_web_user(session, name="ada", role="admin", password="ada-password")
    with TestClient(create_app(settings, worker=False), follow_redirects=False) as client:
        token = _csrf(client, "/login")
        data = {"username": "ada", "password": "ada-password", "csrf_token": token, "next": "/"}
        assert client.post("/login", data=data).status_code == 303
        client.headers.update({"HX-Request": "true", "X-CSRF-Token": _csrf(client, "/")})
        yield client


def _csrf(client: TestClient, path: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert match
    return match.group(1)


@pytest.mark.parametrize(
    ("change", "accepted"),
    [
        ({"diversity_method": "farthest_first"}, True),
        ({"diversity_method": "mmr"}, False),
        ({"epsilon": 0.5}, True),
        ({"epsilon": 0.6}, False),
        ({"committee_size": 1}, False),
        ({"warm_up": 100.5}, False),
        ({"features": "bert"}, False),
        ({"strategy": "bald"}, False),
    ],
)
def test_the_form_and_the_api_accept_and_refuse_the_same_values(
    client: TestClient, web: TestClient, db: Database, change: dict[str, object], accepted: bool
) -> None:
    _, token = create_user(db, name="api-admin")
    project = create_project(db, n_items=3)
    api = client.patch(f"/api/v1/projects/{project.id}", json=change, headers=auth(token))
    form = web.post(
        f"/projects/{project.id}/settings", data={**FORM, **{k: str(v) for k, v in change.items()}}
    )
    assert (api.status_code == 200) is accepted and (form.status_code == 200) is accepted
    assert api.status_code in (200, 422) and form.status_code in (200, 422)
    if accepted:
        name, value = next(iter(change.items()))
        assert api.json()[name] == value
        with db.reader() as session:
            assert session.get_one(Project, project.id).settings[name] == value


def test_a_project_stored_before_the_options_keeps_their_old_meaning(
    client: TestClient, db: Database
) -> None:
    _, token = create_user(db)
    project = create_project(db, n_items=3)
    with db.writer() as session, session.begin():
        session.get_one(Project, project.id).settings = {}  # as stored before any option
    body = client.get(f"/api/v1/projects/{project.id}", headers=auth(token)).json()
    assert (body["warm_up"], body["features"], body["diversity"]) == (0.0, "tfidf", False)
    assert body["diversity_method"] == "cluster"
    created = client.post(
        "/api/v1/projects", json={"name": "new", "labels": ["a", "b"]}, headers=auth(token)
    ).json()
    assert (created["warm_up"], created["features"], created["diversity"]) == (20.0, "minilm", True)
