"""Renaming a project: PATCH with a name, 409 naming a taken one, audited as project.update."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.db import Database
from app.models import AuditEvent, Project
from tests.factories import auth, create_project, create_user


def test_rename_is_audited_with_the_old_and_new_name(client: TestClient, db: Database) -> None:
    project = create_project(db, name="mail", n_items=3)
    _, admin = create_user(db, name="ada", role="admin")
    response = client.patch(
        f"/api/v1/projects/{project.id}", json={"name": "  Mail 2026 "}, headers=auth(admin)
    )
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Mail 2026"
    with db.reader() as session:
        event = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert event is not None and event.action == "project.update"
        assert event.target == "Mail 2026"
        assert event.detail == {"changes": {"name": {"old": "mail", "new": "Mail 2026"}}}


def test_a_taken_name_is_a_conflict_naming_it_and_changes_nothing(
    client: TestClient, db: Database
) -> None:
    project = create_project(db, name="mail", n_items=3)
    create_project(db, name="news", n_items=3)
    _, admin = create_user(db, name="ada", role="admin")
    response = client.patch(
        f"/api/v1/projects/{project.id}",
        json={"name": "news", "batch_size": 7},
        headers=auth(admin),
    )
    assert response.status_code == 409
    assert "'news' already exists" in response.json()["detail"]
    with db.reader() as session:
        kept = session.get_one(Project, project.id)
        assert kept.name == "mail" and kept.batch_size != 7


def test_a_blank_name_is_refused(client: TestClient, db: Database) -> None:
    project = create_project(db, name="mail", n_items=3)
    _, admin = create_user(db, name="ada", role="admin")
    response = client.patch(
        f"/api/v1/projects/{project.id}", json={"name": "   "}, headers=auth(admin)
    )
    assert response.status_code == 422
