"""Browsing a project's items: keyset pages over the API and in the browser, with filters."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.annotations.service import submit
from app.db import Database
from app.models import Item, Project, User
from tests.factories import add_member, auth, create_project, create_user


@pytest.fixture
def token(db: Database) -> str:
    return create_user(db, name="bo", role="annotator")[1]


def _reviewer(db: Database, project: Project) -> Project:
    """Make bo a reviewer of ``project``: an annotator sees only their own rows."""
    with db.reader() as session:
        bo = session.scalar(select(User.id).where(User.name == "bo"))
    assert bo is not None
    add_member(db, project, bo, "reviewer")
    return project


def _ids(db: Database, project_id: int) -> list[int]:
    with db.reader() as session:
        return list(
            session.scalars(select(Item.id).where(Item.project_id == project_id).order_by(Item.id))
        )


def _label(db: Database, project_id: int, user_name: str, item_id: int, label: str) -> None:
    with db.writer() as session, session.begin():
        user = session.scalar(select(User).where(User.name == user_name))
        assert user is not None
        project = session.get_one(Project, project_id)
        submit(session, project, user, item_id=item_id, labels=[label])


def _walk(client: TestClient, path: str, token: str, **params: object) -> list[dict]:
    """Follow ``next`` from the first page to the last; returns every item seen."""
    seen: list[dict] = []
    after = 0
    while True:
        page = client.get(path, params={**params, "after": after}, headers=auth(token))
        assert page.status_code == 200, page.text
        body = page.json()
        seen += body["items"]
        if body["next"] is None:
            return seen
        assert body["next"] == body["items"][-1]["id"]
        after = body["next"]


def test_pages_cover_every_item_once_in_id_order(
    client: TestClient, db: Database, token: str
) -> None:
    project = _reviewer(db, create_project(db, n_items=23, n_labeled=5))
    other = create_project(db, name="other", n_items=4)
    path = f"/api/v1/projects/{project.id}/items"
    items = _walk(client, path, token, limit=5)
    assert [i["id"] for i in items] == _ids(db, project.id)
    assert not set(_ids(db, other.id)) & {i["id"] for i in items}
    labelled = _walk(client, path, token, limit=2, status="labeled")
    unlabelled = _walk(client, path, token, limit=7, status="unlabeled")
    assert len(labelled) == 5 and len(unlabelled) == 18
    assert sorted(i["id"] for i in labelled + unlabelled) == _ids(db, project.id)
    assert all(i["latest"] is None and i["n_annotations"] == 0 for i in unlabelled)
    seed = labelled[0]
    assert seed["latest"]["source"] == "import" and seed["latest"]["annotator"] is None
    assert seed["external_id"] == "t0" and seed["text"].endswith("number 0")


def test_items_carry_their_latest_label(client: TestClient, db: Database, token: str) -> None:
    project = _reviewer(db, create_project(db, n_items=6))
    create_user(db, name="ada", role="annotator")
    ids = _ids(db, project.id)
    _label(db, project.id, "ada", ids[2], "food")
    _label(db, project.id, "bo", ids[2], "sports")
    _label(db, project.id, "ada", ids[4], "weather")
    body = client.get(
        f"/api/v1/projects/{project.id}/items", params={"status": "labeled"}, headers=auth(token)
    ).json()
    assert body["next"] is None
    first, second = body["items"]
    assert first["id"] == ids[2] and first["n_annotations"] == 2
    assert first["latest"]["labels"] == ["sports"] and first["latest"]["annotator"] == "bo"
    assert second["latest"]["labels"] == ["weather"] and second["latest"]["source"] == "human"


def test_page_parameters_are_checked(client: TestClient, db: Database, token: str) -> None:
    project = _reviewer(db, create_project(db, n_items=3))
    path = f"/api/v1/projects/{project.id}/items"
    for params in ({"limit": 501}, {"limit": 0}, {"after": -1}, {"status": "done"}):
        assert client.get(path, params=params, headers=auth(token)).status_code == 422, params
    full = client.get(path, params={"limit": 500}, headers=auth(token)).json()
    assert len(full["items"]) == 3 and full["next"] is None
    beyond = client.get(path, params={"after": 2**31 - 1}, headers=auth(token)).json()
    assert beyond == {"items": [], "next": None, "next_score": None}
    assert client.get("/api/v1/projects/999/items", headers=auth(token)).status_code == 404


def _sign_in(client: TestClient, db: Database) -> None:
    from app.audit.service import CLI
    from app.users.service import reset_password

    with db.writer() as session, session.begin():
        user = session.scalar(select(User).where(User.name == "bo"))
        assert user is not None
        reset_password(session, user, "bo-password-1", revoke_tokens=False, actor=CLI)
    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    form = {"username": "bo", "password": "bo-password-1", "csrf_token": csrf.group(1)}
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303


def test_browser_page_links_the_next_page(client: TestClient, db: Database, token: str) -> None:
    project = _reviewer(db, create_project(db, n_items=130, n_labeled=3))
    _sign_in(client, db)
    ids = _ids(db, project.id)
    dashboard = client.get(f"/projects/{project.id}")
    assert f'href="/projects/{project.id}/items"' in dashboard.text
    first = client.get(f"/projects/{project.id}/items")
    assert first.status_code == 200
    assert f"#{ids[0]}<" in first.text and f"#{ids[99]}<" in first.text
    assert f"#{ids[100]}<" not in first.text
    assert "130 items, 3 labelled, 127 unlabelled" in first.text
    more = f"/projects/{project.id}/items/more?after={ids[99]}"
    assert f'hx-get="{more}"' in first.text
    rows = client.get(more.replace("&amp;", "&"), headers={"HX-Request": "true"})
    assert rows.status_code == 200 and "<html" not in rows.text
    assert f"#{ids[100]}<" in rows.text and f"#{ids[129]}<" in rows.text
    assert "next-page" not in rows.text  # the last page
    unlabelled = client.get(f"/projects/{project.id}/items", params={"status": "unlabeled"})
    assert f"#{ids[0]}<" not in unlabelled.text and f"#{ids[3]}<" in unlabelled.text
    assert client.get(f"/projects/{project.id}/items?status=nope").status_code == 422


def test_screen_actions_refuse_ids_out_of_range(client: TestClient, db: Database) -> None:
    create_user(db, name="bo", role="annotator")
    project = _reviewer(db, create_project(db, n_items=3))
    _sign_in(client, db)
    page = client.get(f"/projects/{project.id}/items", params={"q": "number", "source": ""})
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert page.status_code == 200 and csrf is not None
    form = {"ids": str(2**40), "label": "food", "csrf_token": csrf.group(1)}
    sent = client.post(f"/projects/{project.id}/items/label", data=form, follow_redirects=False)
    assert sent.status_code == 422
    form["ids"] = str(_ids(db, project.id)[0])
    sent = client.post(f"/projects/{project.id}/items/label", data=form, follow_redirects=False)
    assert sent.status_code == 303 and "done=labelled+1+as+food" in sent.headers["location"]
    assert client.get(f"/projects/{project.id}/items", params={"q": "a\x00"}).status_code == 422
