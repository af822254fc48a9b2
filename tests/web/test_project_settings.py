"""The settings page over HTTP: its refusals (a wrong typed name, a taken name, a used label)
say why in the page and change nothing; its actions redirect with a notice."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.models import Annotation, Item, Project
from tests.factories import auth, create_project, create_user

HTMLISH = re.compile(r"<[^>]+>")


@pytest.fixture
def web(settings: Settings, db: Database) -> Iterator[TestClient]:
    create_user(db, name="ada", role="admin", password="ada-password")
    with TestClient(create_app(settings, worker=False), follow_redirects=False) as client:
        token = _csrf(client, "/login")
        form = {"username": "ada", "password": "ada-password", "csrf_token": token}
        assert client.post("/login", data=form).status_code == 303
        client.headers["X-CSRF-Token"] = _csrf(client, "/")
        yield client


def _csrf(client: TestClient, path: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert match, "the page should carry a CSRF token"
    return match.group(1)


def _project(db: Database, project_id: int) -> tuple[str, list[str], int]:
    with db.reader() as session:
        project = session.get_one(Project, project_id)
        n = session.scalar(
            select(func.count()).select_from(Item).where(Item.project_id == project_id)
        )
        return project.name, project.labels, n or 0


def _problem(page: str) -> str:
    match = re.search(r'data-testid="problem">(.*?)</p>', page)
    assert match, "the page should say what was refused"
    return HTMLISH.sub("", match.group(1))


def test_a_wrong_typed_name_deletes_nothing(web: TestClient, db: Database) -> None:
    project = create_project(db, name="Mail", n_items=5)
    before = _project(db, project.id)
    for typed in ("mail", "Mail ", ""):
        page = web.post(f"/projects/{project.id}/delete", data={"confirm": typed})
        assert page.status_code == 422
        assert _problem(page.text) == (
            "The name typed does not match: type &#39;Mail&#39; exactly to delete the project."
        )
    assert _project(db, project.id) == before


def test_the_exact_name_deletes_and_the_list_says_so(web: TestClient, db: Database) -> None:
    project = create_project(db, name="Mail", n_items=5)
    done = web.post(f"/projects/{project.id}/delete", data={"confirm": "Mail"})
    assert done.status_code == 303 and done.headers["location"] == "/"
    listing = web.get("/").text
    assert "Project &#39;Mail&#39; was deleted" in listing
    assert "was deleted" not in web.get("/").text  # said once
    with db.reader() as session:
        assert session.get(Project, project.id) is None


def test_a_taken_name_is_refused_in_the_page(web: TestClient, db: Database) -> None:
    project = create_project(db, name="Mail", n_items=2)
    create_project(db, name="News")
    page = web.post(f"/projects/{project.id}/rename", data={"name": "News"})
    assert page.status_code == 409
    assert _problem(page.text) == (
        "A project named &#39;News&#39; already exists; choose another name."
    )
    assert 'value="Mail"' in page.text  # the form shows the stored name
    assert _project(db, project.id)[0] == "Mail"
    blank = web.post(f"/projects/{project.id}/rename", data={"name": "  "})
    assert blank.status_code == 422 and _problem(blank.text) == "Name: name must not be blank."


def test_label_refusals_are_sentences_and_change_nothing(web: TestClient, db: Database) -> None:
    project = create_project(db, labels=["sports", "food", "weather"], n_items=12, n_labeled=6)
    before = _project(db, project.id)
    url = f"/projects/{project.id}/labels"
    clash = web.post(f"{url}/rename", data={"label": "food", "name": "Sports"})
    assert clash.status_code == 409
    assert _problem(clash.text) == "The project already has the label &#39;sports&#39;."
    used = web.post(f"{url}/delete", data={"label": "sports"})
    assert used.status_code == 409
    assert _problem(used.text).startswith("Label &#39;sports&#39; is used by ")
    assert "merge_into" not in _problem(used.text)
    added = web.post(url, data={"name": "FOOD"})
    assert added.status_code == 409
    assert _problem(added.text) == "The project already has the label &#39;food&#39;."
    assert _project(db, project.id) == before


def test_merge_moves_the_annotations_and_says_so(web: TestClient, db: Database) -> None:
    project = create_project(db, labels=["sports", "food", "weather"], n_items=12, n_labeled=6)
    url = f"/projects/{project.id}/labels"
    merged = web.post(f"{url}/delete", data={"label": "sports", "merge_into": "food"})
    assert merged.status_code == 303
    page = web.get(merged.headers["location"]).text
    assert "Label &#39;sports&#39; merged into &#39;food&#39;." in page
    with db.reader() as session:
        labels = session.scalars(
            select(Annotation.labels).where(Annotation.project_id == project.id)
        ).all()
    assert labels and all("sports" not in x for x in labels)
    assert _project(db, project.id)[1] == ["food", "weather"]


def test_the_last_two_labels_of_a_single_label_project_stay(web: TestClient, db: Database) -> None:
    project = create_project(db, labels=["spam", "ham"], n_items=3)
    page = web.post(f"/projects/{project.id}/labels/delete", data={"label": "ham"})
    assert page.status_code == 422
    assert _problem(page.text) == (
        "Label &#39;ham&#39;: a single-label project needs at least 2 labels."
    )
    assert _project(db, project.id)[1] == ["spam", "ham"]


def test_undo_from_the_import_list_says_how_many_items_went(web: TestClient, db: Database) -> None:
    project = create_project(db, n_items=3)
    _, token = create_user(db, name="bo", role="admin")
    rows = b"text\nfirst new text\nsecond new text\n"
    imported = web.post(
        f"/api/v1/projects/{project.id}/imports",
        files={"file": ("more.csv", rows, "text/csv")},
        headers=auth(token),
    )
    assert imported.status_code == 201, imported.text
    job_id = imported.json()["import_id"]
    listing = web.get(f"/projects/{project.id}/import").text
    assert "more.csv" in listing and f"/imports/{job_id}/undo" in listing
    undone = web.post(f"/projects/{project.id}/imports/{job_id}/undo")
    assert undone.status_code == 303
    page = web.get(undone.headers["location"]).text
    assert f"Import {job_id} undone: 2 items deleted, with their labels." in page
    assert f"/imports/{job_id}/undo" not in page  # an undone import offers no undo
    assert _project(db, project.id)[2] == 3
    again = web.post(f"/projects/{project.id}/imports/{job_id}/undo")
    assert again.status_code == 409 and "only a finished import can be undone" in again.text
