"""Labelling is blind: an annotator's items listing (API and screen) filters on their own
labels only, so no filter tells them where someone else chose otherwise, or who else labelled."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.annotations.service import submit
from app.db import Database
from app.models import Item, Project, User
from tests.factories import auth, create_project, create_user
from tests.security.conftest import csrf


@pytest.fixture
def bo(db: Database) -> str:
    """bo's API token; bo and ada annotate every project."""
    create_user(db, name="ada", role="annotator")
    return create_user(db, name="bo", role="annotator", password="bo-password")[1]


@pytest.fixture
def project(db: Database, bo: str) -> Project:
    """Items 0 (seeded "sports"), 2 and 3 labelled by bo; ada disagrees with bo on item 2,
    agrees on 3 and labels 4 alone; bo overrules the seed of item 0."""
    project = create_project(db, n_items=6, n_labeled=1, overlap=2)
    ids = _ids(db, project)
    for user, index, label in [
        ("bo", 0, "food"),
        ("ada", 2, "food"),
        ("bo", 2, "weather"),
        ("ada", 3, "food"),
        ("bo", 3, "food"),
        ("ada", 4, "weather"),
    ]:
        _label(db, project, user, ids[index], label)
    return project


def _ids(db: Database, project: Project) -> list[int]:
    with db.reader() as session:
        query = select(Item.id).where(Item.project_id == project.id).order_by(Item.id)
        return list(session.scalars(query))


def _label(db: Database, project: Project, user_name: str, item_id: int, label: str) -> None:
    with db.writer() as session, session.begin():
        user = session.scalars(select(User).where(User.name == user_name)).one()
        submit(session, session.get_one(Project, project.id), user, item_id=item_id, labels=[label])


# (filters, bo's items that pass them): a listing sees only bo's own labels.
CASES: list[tuple[dict[str, str], list[int]]] = [
    ({}, [0, 2, 3]),
    ({"status": "disagreement"}, []),  # items 0 and 2 (bo's disagreements), before
    ({"label": "food"}, [0, 3]),  # bo's own label, not the final one
    ({"label": "sports"}, []),  # item 0's seed
    ({"annotator": "ada"}, []),  # items 2 and 3, before
    ({"annotator": "bo"}, [0, 2, 3]),
    ({"source": "import"}, []),  # item 0's seed, before
    ({"source": "human"}, [0, 2, 3]),
    ({"status": "labeled", "sort": "score"}, []),  # no model yet: nothing ranked
]


def test_an_annotators_filters_look_at_their_own_labels_only(
    client: TestClient, db: Database, bo: str, project: Project
) -> None:
    ids = _ids(db, project)
    path = f"/api/v1/projects/{project.id}/items"
    for params, expected in CASES:
        response = client.get(path, params=params, headers=auth(bo))
        assert response.status_code == 200, response.text
        rows = response.json()["items"]
        assert [row["id"] for row in rows] == [ids[i] for i in expected], params
        assert all(row["outcome"] is None and row["n_annotations"] == 1 for row in rows)


def test_the_items_screen_shows_an_annotator_no_disagreement(
    client: TestClient, db: Database, project: Project
) -> None:
    form = {"username": "bo", "password": "bo-password", "csrf_token": csrf(client)}
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303
    ids = _ids(db, project)
    page = client.get(f"/projects/{project.id}/items", params={"status": "disagreement"})
    assert page.status_code == 200
    assert not any(f'data-testid="row-{item_id}"' in page.text for item_id in ids)
    assert 'value="disagreement"' not in page.text and 'name="source"' not in page.text
    mine = client.get(f"/projects/{project.id}/items").text
    assert all(f'data-testid="row-{ids[i]}"' in mine for i in (0, 2, 3))
