"""The items screen over HTTP: a bulk action with nothing ticked and a bad filter in the query
string are answered in HTML a person can read, while the API keeps FastAPI's JSON."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.db import Database
from app.models import Item
from tests.factories import auth, create_project, create_user

ACTIONS = ("label", "review", "delete")


@pytest.mark.parametrize("action", ACTIONS)
def test_a_bulk_action_with_nothing_ticked_is_a_page_saying_so(
    admin_web: TestClient, db: Database, action: str
) -> None:
    project = create_project(db, n_items=3)
    page = admin_web.post(f"/projects/{project.id}/items/{action}", data={"label": "sports"})
    assert page.status_code == 422 and page.headers["content-type"].startswith("text/html")
    assert "<html" in page.text and "Tick at least one item first." in page.text
    assert '"detail"' not in page.text and "Sign out" in page.text
    with db.reader() as session:
        assert session.scalar(select(func.count()).select_from(Item)) == 3


@pytest.mark.parametrize("action", ACTIONS)
def test_a_bulk_action_with_nothing_ticked_from_htmx_is_a_toast(
    admin_web: TestClient, db: Database, action: str
) -> None:
    project = create_project(db, n_items=3)
    toast = admin_web.post(
        f"/projects/{project.id}/items/{action}", headers={"HX-Request": "true"}, data={}
    )
    assert toast.status_code == 422 and toast.headers["HX-Retarget"] == "#toasts"
    assert 'class="toast toast-error"' in toast.text and "<html" not in toast.text
    assert "Tick at least one item first." in toast.text


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("status=bogus", "status: must be &#39;all&#39;, &#39;labeled&#39;, &#39;unlabeled&#39;"),
        ("sort=size", "sort: must be &#39;id&#39; or &#39;score&#39;, not &#39;size&#39;."),
        ("after=-1", "after: must be at least 0, not &#39;-1&#39;."),
        ("after=x", "after: must be a valid integer"),
        ("after_score=inf", "after_score: must be a finite number, not &#39;inf&#39;."),
        ("q=" + "x" * 600, "q: must be at most 500 characters, not &#39;xxxx"),
        ("q=a%00b", "q: must not contain a NUL character"),
        ("sort=%ED%A0%80%FF", "sort: must be &#39;id&#39; or &#39;score&#39;, not &#39;"),
    ],
)
def test_a_bad_query_string_is_the_error_page_naming_field_and_value(
    admin_web: TestClient, db: Database, query: str, message: str
) -> None:
    project = create_project(db, n_items=3)
    for path in ("items", "items/more"):
        page = admin_web.get(f"/projects/{project.id}/{path}?{query}")
        assert page.status_code == 422, page.text
        assert "<html" in page.text and message in page.text
        assert '"detail"' not in page.text and '"loc"' not in page.text
    assert "&#39;bogus&#39;." in admin_web.get(f"/projects/{project.id}/items?status=bogus").text


def test_a_bad_project_id_in_a_page_path_is_the_error_page(admin_web: TestClient) -> None:
    for path, message in (("/projects/x/items", "project_id: must be a valid integer"),):
        page = admin_web.get(path)
        assert page.status_code == 422 and "<html" in page.text and message in page.text


def test_the_api_keeps_fastapis_list_of_problems(admin_web: TestClient, db: Database) -> None:
    project = create_project(db, n_items=3)
    token = create_user(db, name="bo", role="annotator")[1]
    response = admin_web.get(
        f"/api/v1/projects/{project.id}/items",
        params={"status": "bogus"},
        headers=auth(token),
    )
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["query", "status"] and problem["type"] == "literal_error"
    assert problem["input"] == "bogus"
