"""The Members section over HTTP: its address, opened in a browser, leads to the section on
the project's dashboard where the members are managed."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.db import Database
from tests.factories import create_project, create_user


def test_opening_the_members_address_goes_to_the_dashboards_section(
    admin_web: TestClient, db: Database
) -> None:
    project = create_project(db, n_items=3)
    create_user(db, name="bo", role="annotator")
    response = admin_web.get(f"/projects/{project.id}/members")
    assert response.status_code == 303
    assert response.headers["location"] == f"/projects/{project.id}#members"
    dashboard = admin_web.get(response.headers["location"])
    assert dashboard.status_code == 200 and 'id="members"' in dashboard.text
    assert "<td>bo</td>" in dashboard.text


def test_the_members_address_of_a_missing_project_is_not_found(admin_web: TestClient) -> None:
    page = admin_web.get("/projects/999/members")
    assert page.status_code == 404 and "Not found" in page.text
