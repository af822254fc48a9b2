"""Deleting items through the API: the item and everything hanging off it, or nothing."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.config import Settings
from app.db import Database
from app.models import Annotation, AnnotationHistory, Item, Project, RankEntry
from tests.factories import auth, create_project, create_user, queue_and_work


def _ids(db: Database, project: Project) -> list[int]:
    with db.reader() as session:
        return list(
            session.scalars(select(Item.id).where(Item.project_id == project.id).order_by(Item.id))
        )


def _count(db: Database, stmt) -> int:  # noqa: ANN001 - a count statement
    with db.reader() as session:
        return session.scalar(stmt) or 0


def test_deleting_labelled_items_removes_their_labels_ranks_and_history(
    client: TestClient, db: Database, settings: Settings
) -> None:
    project = create_project(db, n_items=30, n_labeled=20)
    queue_and_work(db, settings, project)
    _, admin = create_user(db, name="ada", role="admin")
    ids = _ids(db, project)
    gone = [ids[0], ids[1], ids[25]]  # two labelled, one ranked
    url = f"/api/v1/projects/{project.id}/items"
    response = client.post(f"{url}/delete", json={"ids": gone}, headers=auth(admin))
    assert response.status_code == 200 and response.json() == {"deleted": 3}
    assert _ids(db, project) == [i for i in ids if i not in gone]
    for model in (Annotation, AnnotationHistory, RankEntry):
        assert _count(db, select(func.count()).where(model.item_id.in_(gone))) == 0
    with db.reader() as session:
        p = session.get_one(Project, project.id)
        assert (p.n_items, p.n_labeled) == (27, 18)
    single = client.delete(f"{url}/{ids[2]}", headers=auth(admin))
    assert single.status_code == 204
    listed = client.get(url, params={"limit": 100}, headers=auth(admin)).json()["items"]
    assert ids[2] not in {item["id"] for item in listed} and len(listed) == 26


def test_one_unknown_id_deletes_nothing_and_is_named(client: TestClient, db: Database) -> None:
    project = create_project(db, n_items=5)
    other = create_project(db, name="other", n_items=2)
    _, admin = create_user(db, name="ada", role="admin")
    ids, foreign = _ids(db, project), _ids(db, other)[0]
    url = f"/api/v1/projects/{project.id}/items"
    response = client.post(f"{url}/delete", json={"ids": [ids[0], foreign]}, headers=auth(admin))
    assert response.status_code == 404 and response.json()["detail"] == f"item {foreign} not found"
    assert client.delete(f"{url}/{foreign}", headers=auth(admin)).status_code == 404
    assert _ids(db, project) == ids and _ids(db, other)[0] == foreign
    too_many = client.post(f"{url}/delete", json={"ids": list(range(1, 1002))}, headers=auth(admin))
    assert too_many.status_code == 422


def test_annotators_may_not_delete_items(client: TestClient, db: Database) -> None:
    project = create_project(db, n_items=5)
    _, annotator = create_user(db, name="bo", role="annotator")
    ids = _ids(db, project)
    url = f"/api/v1/projects/{project.id}/items/{ids[0]}"
    assert client.delete(url, headers=auth(annotator)).status_code == 403
    assert _ids(db, project) == ids
