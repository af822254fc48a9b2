"""Undoing an import: the items it added go, with their labels; other imports' items stay."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.db import Database
from app.models import Annotation, AuditEvent, Item
from tests.factories import auth, create_project, create_user
from tests.items.test_import_jobs import _finished, _post, _wait


def _upload(client: TestClient, pid: int, token: str, rows: list[str]) -> dict[str, object]:
    data = ("text,label\n" + "\n".join(rows) + "\n").encode()
    response = client.post(
        f"/api/v1/projects/{pid}/imports",
        files={"file": ("rows.csv", data, "text/csv")},
        headers=auth(token),
    )
    assert response.status_code == 201, response.text
    return response.json()


def _texts(db: Database, pid: int) -> set[str]:
    with db.reader() as session:
        return set(session.scalars(select(Item.text).where(Item.project_id == pid)))


def test_undo_deletes_exactly_the_items_the_import_added(client: TestClient, db: Database) -> None:
    project = create_project(db, n_items=10)
    _, admin = create_user(db, name="ada", role="admin")
    before = _texts(db, project.id)
    first = _upload(client, project.id, admin, [f"test row {i},food" for i in range(8)])
    second = _upload(client, project.id, admin, ["test row 0,", "another row,", "more rows,"])
    assert (first["imported"], first["labeled"], second["imported"]) == (8, 8, 2)
    base = f"/api/v1/projects/{project.id}/imports"
    listed = client.get(base, headers=auth(admin)).json()
    assert [job["id"] for job in listed] == [second["import_id"], first["import_id"]]
    assert listed[1]["status"] == "succeeded" and listed[1]["filename"] == "rows.csv"

    undone = client.delete(f"{base}/{first['import_id']}", headers=auth(admin))
    assert undone.status_code == 200 and undone.json() == {"deleted": 8}
    assert _texts(db, project.id) == before | {"another row", "more rows"}
    with db.reader() as session:
        assert session.scalar(select(func.count()).select_from(Annotation)) == 0
        event = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert event is not None and event.action == "import.undo"
    again = client.delete(f"{base}/{first['import_id']}", headers=auth(admin))
    assert again.status_code == 409 and "undone" in again.json()["detail"]
    assert client.get(base, headers=auth(admin)).json()[1]["status"] == "undone"


def test_a_background_import_is_undone_whole(client: TestClient, db: Database) -> None:
    project = create_project(db, n_items=5)
    _, admin = create_user(db, name="ada", role="admin")
    before = _texts(db, project.id)
    data = ("text\n" + "\n".join(f"background row {i}" for i in range(3000)) + "\n").encode()
    started = _post(client, project.id, admin, data)
    assert started.status_code == 202
    job = _wait(client, started.headers["location"], admin, _finished)
    assert job["status"] == "succeeded" and job["imported"] == 3000
    url = f"/api/v1/projects/{project.id}/imports/{job['id']}"
    assert client.delete(url, headers=auth(admin)).json() == {"deleted": 3000}
    assert _texts(db, project.id) == before


def test_another_projects_import_is_not_found_and_stays(client: TestClient, db: Database) -> None:
    project = create_project(db, n_items=2)
    other = create_project(db, name="other", n_items=2)
    _, admin = create_user(db, name="ada", role="admin")
    theirs = _upload(client, other.id, admin, ["their row,"])
    url = f"/api/v1/projects/{project.id}/imports/{theirs['import_id']}"
    response = client.delete(url, headers=auth(admin))
    assert response.status_code == 404
    assert response.json()["detail"] == f"import {theirs['import_id']} not found"
    assert "their row" in _texts(db, other.id)
