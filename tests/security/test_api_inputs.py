"""Inputs a database cannot hold are refused at the edge with 422, never a 500 (R9's findings).

PostgreSQL's ``integer`` ends at 2**31 - 1 and its text cannot hold NUL; before these checks
both reached the database and came back as 500s. Each case runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.db import Database
from app.models import Annotation, Project, User
from app.users.service import create_user as create_user_with_password
from tests.factories import auth, create_project, create_user
from tests.security.conftest import csrf, sign_in

HUGE_IDS = [2**31, 2**63, 10**30]
PROJECT_ROUTES = [
    ("GET", ""),
    ("PATCH", ""),
    ("GET", "/queue"),
    ("GET", "/model"),
    ("GET", "/runs"),
    ("GET", "/export"),
    ("POST", "/train"),
    ("POST", "/predict"),
    ("POST", "/annotations"),
    ("POST", "/imports"),
]


@pytest.mark.parametrize("project_id", HUGE_IDS)
def test_out_of_range_project_ids_are_422_on_every_route(
    client: TestClient, admin: str, project_id: int
) -> None:
    for method, suffix in PROJECT_ROUTES:
        response = client.request(
            method, f"/api/v1/projects/{project_id}{suffix}", headers=auth(admin)
        )
        assert response.status_code == 422, (method, suffix, response.text)
        assert response.json()["detail"][0]["loc"] == ["path", "project_id"]


@pytest.mark.parametrize("item_id", [0, 2**31, 2**63])
def test_out_of_range_item_ids_are_422(client: TestClient, db: Database, item_id: int) -> None:
    project = create_project(db, n_items=3)
    _, token = create_user(db, name="ann", role="annotator")
    response = client.post(
        f"/api/v1/projects/{project.id}/annotations",
        json={"item_id": item_id, "label": "food"},
        headers=auth(token),
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "item_id"]


@pytest.mark.parametrize(
    "body",
    [
        {"name": "bad\x00name", "labels": ["a", "b"]},
        {"name": "fine", "labels": ["a", "b\x00"]},
    ],
    ids=["name", "label"],
)
def test_nul_in_project_fields_is_422(
    client: TestClient, db: Database, admin: str, body: dict
) -> None:
    response = client.post("/api/v1/projects", json=body, headers=auth(admin))
    assert response.status_code == 422, response.text
    assert "NUL" in response.text
    with db.reader() as session:
        assert session.scalar(select(func.count()).select_from(Project)) == 0


def test_nul_in_an_annotation_label_is_422(client: TestClient, db: Database) -> None:
    project = create_project(db, n_items=3)
    _, token = create_user(db, name="ann", role="annotator")
    url = f"/api/v1/projects/{project.id}/annotations"
    for body in ({"item_id": 1, "label": "fo\x00od"}, {"item_id": 1, "labels": ["\x00"]}):
        response = client.post(url, json=body, headers=auth(token))
        assert response.status_code == 422 and "NUL" in response.text, response.text
    with db.reader() as session:
        assert session.scalar(select(func.count()).select_from(Annotation)) == 0


def test_nul_in_a_sign_in_name_is_a_wrong_password(client: TestClient, db: Database) -> None:
    with db.writer() as session, session.begin():
        create_user_with_password(session, name="ada", role="admin", password="ada-password")
    response = client.post(
        "/login",
        data={"username": "ad\x00a", "password": "ada-password", "csrf_token": csrf(client)},
        follow_redirects=False,
    )
    assert response.status_code == 401 and "Wrong username or password" in response.text


def test_nul_in_a_new_user_name_is_refused(client: TestClient, db: Database) -> None:
    token = sign_in(client, db)
    response = client.post(
        "/users",
        data={"name": "e\x00ve", "password": "eve-password", "role": "annotator"},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    assert response.status_code == 422 and "U+0000" in response.text, response.text
    with db.reader() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 1


@pytest.mark.parametrize("path", ["/projects/{id}", "/projects/{id}/annotate"])
def test_web_pages_refuse_out_of_range_ids(client: TestClient, db: Database, path: str) -> None:
    sign_in(client, db)
    response = client.get(path.format(id=2**31), follow_redirects=False)
    assert response.status_code == 422, response.text
