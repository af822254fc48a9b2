"""Project membership: who sees which rows, the member routes and their audit trail, and the
upgrade that makes existing users members (the route-by-role matrix is in
``tests/security/test_authorization.py``)."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.db import Database
from app.migrate import downgrade, upgrade
from app.models import AuditEvent, ProjectMember
from tests.factories import add_member, auth, create_project, create_user


def _annotators(client: TestClient, token: str, project_id: int) -> list[str]:
    url = f"/api/v1/projects/{project_id}/export"
    body = client.get(url, headers=auth(token))
    assert body.status_code == 200, body.text
    return sorted(row["annotator"] for row in csv.DictReader(io.StringIO(body.text)))


def test_an_annotator_exports_only_their_own_rows(client: TestClient, db: Database) -> None:
    project = create_project(db, n_items=4, members={})
    people = {}
    for name, role in (("ann", "annotator"), ("rev", "reviewer"), ("bob", "annotator")):
        user, token = create_user(db, name=name, role="annotator", projects=())
        add_member(db, project, user, role)
        people[name] = token
    for i, name in enumerate(("ann", "rev", "bob")):
        body = {"item_id": i + 1, "label": "sports"}
        url = f"/api/v1/projects/{project.id}/annotations"
        assert client.post(url, json=body, headers=auth(people[name])).status_code == 201
    assert _annotators(client, people["ann"], project.id) == ["ann"]
    assert _annotators(client, people["bob"], project.id) == ["bob"]
    assert _annotators(client, people["rev"], project.id) == ["ann", "bob", "rev"]
    _, admin = create_user(db, name="ada", role="admin")
    assert _annotators(client, admin, project.id) == ["ann", "bob", "rev"]


def test_members_are_added_by_name_or_id_changed_and_removed_with_audit_events(
    client: TestClient, db: Database
) -> None:
    _, admin = create_user(db, name="ada", role="admin")
    project = create_project(db, members={})
    cy, _ = create_user(db, name="cy", role="annotator", projects=())
    url = f"/api/v1/projects/{project.id}/members"
    added = client.post(url, json={"user": "cy", "role": "reviewer"}, headers=auth(admin))
    assert added.status_code == 201 and added.json()["user_id"] == cy.id
    again = client.post(url, json={"user_id": cy.id}, headers=auth(admin))
    assert again.status_code == 409
    both = client.post(url, json={"user_id": cy.id, "user": "cy"}, headers=auth(admin))
    assert both.status_code == 422
    unknown = client.post(url, json={"user": "nobody"}, headers=auth(admin))
    assert unknown.status_code == 404
    changed = client.patch(f"{url}/{cy.id}", json={"role": "manager"}, headers=auth(admin))
    assert changed.json()["role"] == "manager"
    assert client.delete(f"{url}/{cy.id}", headers=auth(admin)).status_code == 204
    assert client.delete(f"{url}/{cy.id}", headers=auth(admin)).status_code == 404
    with db.reader() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action.like("member.%")).order_by(AuditEvent.id)
        ).all()
    assert [(e.action, e.actor_name, e.project_id, e.detail) for e in events] == [
        ("member.add", "ada", project.id, {"user": "cy", "role": "reviewer"}),
        ("member.role", "ada", project.id, {"user": "cy", "old": "reviewer", "new": "manager"}),
        ("member.remove", "ada", project.id, {"user": "cy", "role": "manager"}),
    ]


def test_a_manager_manages_only_their_project(client: TestClient, db: Database) -> None:
    mine = create_project(db, name="mine", members={})
    theirs = create_project(db, name="theirs", members={})
    boss, token = create_user(db, name="boss", role="annotator", projects=())
    add_member(db, mine, boss, "manager")
    listed = client.get("/api/v1/projects", headers=auth(token)).json()
    assert [p["name"] for p in listed] == ["mine"]
    patch = {"batch_size": 33}
    assert (
        client.patch(f"/api/v1/projects/{mine.id}", json=patch, headers=auth(token)).json()[
            "batch_size"
        ]
        == 33
    )
    refused = client.patch(f"/api/v1/projects/{theirs.id}", json=patch, headers=auth(token))
    assert refused.status_code == 404
    assert refused.json()["detail"] == f"project {theirs.id} not found"


def test_the_creator_of_a_project_is_its_manager(client: TestClient, db: Database) -> None:
    _, admin = create_user(db, name="ada", role="admin")
    body = {"name": "fresh", "labels": ["a", "b"]}
    created = client.post("/api/v1/projects", json=body, headers=auth(admin)).json()
    members = client.get(f"/api/v1/projects/{created['id']}/members", headers=auth(admin))
    assert [(m["user"], m["role"]) for m in members.json()] == [("ada", "manager")]


def test_upgrading_makes_existing_users_annotators_of_existing_projects(
    db_url: str, db: Database
) -> None:
    project = create_project(db, members={})
    create_user(db, name="ada", role="admin")
    ann, _ = create_user(db, name="ann", role="annotator", projects=())
    downgrade(db_url, "0007")
    upgrade(db_url)
    with db.reader() as session:
        rows = session.execute(
            select(ProjectMember.project_id, ProjectMember.user_id, ProjectMember.role)
        ).all()
    assert [tuple(r) for r in rows] == [(project.id, ann.id, "annotator")]  # admins need none
