"""The dashboard's agreement panel: figures once two annotators labelled an item, else why not."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.annotations.agreement import NOT_ENOUGH
from app.annotations.service import submit
from app.config import Settings
from app.db import Database
from app.main import create_app
from app.models import Item, Project, User
from app.users.service import create_user
from tests.factories import create_project


@pytest.fixture
def web(settings: Settings, db: Database) -> Iterator[TestClient]:
    with db.writer() as session, session.begin():
        create_user(session, name="boss", role="admin", password="boss-password")
        for name in ("ann1", "ann2"):
            create_user(session, name=name, role="annotator", password=f"{name}-password")
    with TestClient(create_app(settings, worker=False)) as client:
        page = client.get("/login").text
        csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
        form = {"username": "boss", "password": "boss-password", "csrf_token": csrf, "next": "/"}
        assert client.post("/login", data=form).status_code == 200
        yield client


def _label(db: Database, project: Project, sheet: dict[str, list[str]]) -> None:
    with db.writer() as session, session.begin():
        items = list(session.scalars(select(Item.id).where(Item.project_id == project.id)))
        rules = session.get_one(Project, project.id)
        for name, labels in sheet.items():
            user = session.scalar(select(User).where(User.name == name))
            for item_id, label in zip(items, labels, strict=False):
                submit(session, rules, user, item_id=item_id, labels=[label])


def test_panel_shows_figures_per_label_and_annotator(web: TestClient, db: Database) -> None:
    project = create_project(db, n_items=6)
    _label(
        db,
        project,
        {
            "ann1": ["sports", "weather", "food", "food", "sports"],
            "ann2": ["sports", "weather", "food", "weather", "sports"],
        },
    )
    page = web.get(f"/projects/{project.id}/agreement").text
    panel = page.split('<section class="card" id="agreement"')[1].split("</section>")[0]
    assert "Krippendorff" in panel and NOT_ENOUGH not in panel
    assert "all labels" in panel and ">weather<" in panel
    assert ">ann1<" in panel and ">ann2<" in panel


def test_panel_says_why_without_overlap(web: TestClient, db: Database) -> None:
    project = create_project(db, n_items=4)
    _label(db, project, {"ann1": ["sports", "food"]})
    dashboard = web.get(f"/projects/{project.id}").text  # loads the panel afterwards
    assert f'hx-get="/projects/{project.id}/agreement"' in dashboard
    page = web.get(f"/projects/{project.id}/agreement").text
    assert 'data-testid="agreement-message"' in page and "at least two people" in page
