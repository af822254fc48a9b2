"""The HTML surface over HTTP: sign-in, CSRF, roles, error pages and toasts, headers."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.models import Project
from tests.factories import create_project, create_user


@pytest.fixture
def web(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, worker=False), follow_redirects=False) as client:
        yield client


def _user(db: Database, name: str, role: str) -> None:
    """A user who signs in with ``<name>-password``, a member of every project."""
    create_user(db, name=name, role=role, password=f"{name}-password")


def _csrf(client: TestClient, path: str = "/login") -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert match, "the page should carry a CSRF token"
    return match.group(1)


def _sign_in(client: TestClient, name: str) -> str:
    token = _csrf(client)
    response = client.post(
        "/login",
        data={"username": name, "password": f"{name}-password", "csrf_token": token, "next": "/"},
    )
    assert response.status_code == 303, response.text
    return _csrf(client, "/")  # signing in starts a new session with a new token


def test_pages_need_a_session(web: TestClient) -> None:
    response = web.get("/projects/1/annotate")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/projects/1/annotate"


def test_sign_in_sets_a_hardened_cookie(web: TestClient, db: Database) -> None:
    _user(db, "ada", "admin")
    token = _csrf(web)
    wrong = web.post("/login", data={"username": "ada", "password": "nope", "csrf_token": token})
    assert wrong.status_code == 401 and "Wrong username or password" in wrong.text
    ok = web.post(
        "/login",
        data={
            "username": "ada",
            "password": "ada-password",
            "csrf_token": token,
            "next": "//evil.example/",
        },
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/"
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert web.get("/").status_code == 200


def test_state_changes_need_the_csrf_token(web: TestClient, db: Database) -> None:
    _user(db, "ada", "admin")
    _sign_in(web, "ada")
    form = {"name": "x", "labels": "a\nb"}
    refused = web.post("/projects", data=form)
    assert refused.status_code == 403 and "did not come from this site" in refused.text
    with db.reader() as session:
        assert session.scalar(select(func.count()).select_from(Project)) == 0
    token = _csrf(web, "/projects/new")
    assert web.post("/projects", data={**form, "csrf_token": token}).status_code == 303


def test_annotators_cannot_open_admin_screens(web: TestClient, db: Database) -> None:
    _user(db, "bo", "annotator")
    project = create_project(db, n_items=3)
    _sign_in(web, "bo")
    for path in ("/projects/new", "/users", f"/projects/{project.id}/import"):
        response = web.get(path)
        assert response.status_code == 403, path
        assert "Not allowed" in response.text and "text/html" in response.headers["content-type"]
    assert web.get(f"/projects/{project.id}/annotate").status_code == 200


def test_errors_are_pages_or_toasts(web: TestClient, db: Database) -> None:
    _user(db, "ada", "admin")
    token = _sign_in(web, "ada")
    page = web.get("/projects/999")
    assert page.status_code == 404 and "<html" in page.text and "project 999" in page.text
    toast = web.post("/projects/999/train", headers={"HX-Request": "true", "X-CSRF-Token": token})
    assert toast.status_code == 404
    assert toast.headers["HX-Retarget"] == "#toasts"
    assert 'class="toast toast-error"' in toast.text and "<html" not in toast.text


def test_security_headers_everywhere(web: TestClient) -> None:
    for path in ("/login", "/api/v1/projects", "/static/app.css"):
        headers = web.get(path).headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"


def test_undo_with_nothing_to_undo_is_a_conflict_toast(web: TestClient, db: Database) -> None:
    _user(db, "bo", "annotator")
    project = create_project(db, n_items=3)
    token = _sign_in(web, "bo")
    response = web.post(
        f"/projects/{project.id}/annotate/undo",
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )
    assert response.status_code == 409 and "nothing to undo" in response.text


def test_settings_form_sets_the_warm_up(web: TestClient, db: Database) -> None:
    _user(db, "ada", "admin")
    project = create_project(db, n_items=3)
    token = _sign_in(web, "ada")
    headers = {"HX-Request": "true", "X-CSRF-Token": token}
    form = {"strategy": "margin", "batch_size": "10", "warm_up": "3.5"}
    saved = web.post(f"/projects/{project.id}/settings", data=form, headers=headers)
    assert (
        saved.status_code == 200 and 'name="warm_up"' in saved.text and 'value="3.5"' in saved.text
    )
    refused = web.post(
        f"/projects/{project.id}/settings", data={**form, "warm_up": "-1"}, headers=headers
    )
    assert refused.status_code == 422 and "Warm-up: must be at least 0" in refused.text
    with db.reader() as session:
        assert session.get_one(Project, project.id).settings["warm_up"] == 3.5


def _create(web: TestClient, token: str, **form: str) -> tuple[int, str]:
    response = web.post("/projects", data={"name": "mail", **form, "csrf_token": token})
    return response.status_code, response.text


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (" \n , ", "A single-label project needs at least two labels; none were given"),
        ("spam", "only &#39;spam&#39; was given: every item would get it"),
        ("spam\nham\nspam", "Labels must be unique: &#39;spam&#39; is listed twice"),
        ("ham\n Ham ", "&#39;ham&#39; and &#39;Ham&#39; differ only in case or form"),
    ],
)
def test_new_project_form_says_plainly_what_is_wrong_with_the_labels(
    web: TestClient, db: Database, labels: str, message: str
) -> None:
    _user(db, "ada", "admin")
    status, page = _create(web, _sign_in(web, "ada"), labels=labels)
    assert status == 422 and message in page
    assert "Value error" not in page and "List should have" not in page
    with db.reader() as session:
        assert session.scalar(select(func.count()).select_from(Project)) == 0


def test_a_taken_project_name_keeps_what_was_typed(web: TestClient, db: Database) -> None:
    _user(db, "ada", "admin")
    create_project(db, name="mail")
    labels = "\n".join(f"intent_{i}" for i in range(77))
    token = _sign_in(web, "ada")
    status, page = _create(web, token, labels=labels, batch_size="7", strategy="entropy")
    assert status == 409
    assert "A project named &#39;mail&#39; already exists; choose another name" in page
    assert f">{labels}</textarea>" in page
    assert 'value="mail"' in page and 'value="7"' in page
    assert '<option value="entropy" selected>' in page


def test_a_one_label_project_is_fine_when_items_may_have_several(
    web: TestClient, db: Database
) -> None:
    _user(db, "ada", "admin")
    status, _ = _create(web, _sign_in(web, "ada"), labels="urgent", multi_label="true")
    assert status == 303


def test_error_pages_keep_the_navigation_of_a_signed_in_user(web: TestClient, db: Database) -> None:
    _user(db, "ada", "admin")
    for path in ("/no-such-page", "/projects/999"):
        anonymous = web.get(path)
        assert "Sign out" not in anonymous.text
    _sign_in(web, "ada")
    for path in ("/no-such-page", "/projects/999"):
        page = web.get(path)
        assert page.status_code == 404 and "Not found" in page.text
        assert 'aria-label="Main"' in page.text and "Sign out" in page.text, path
        assert '<a href="/users">Users</a>' in page.text


def _stored_shape(db: Database, name: str) -> tuple[str, list[str], str, str, list[str]]:
    """The task, fields, primary field, layout and labels of the project called ``name``."""
    with db.reader() as session:
        p = session.scalars(select(Project).where(Project.name == name)).one()
        return p.task, list(p.item_fields), p.primary_field, p.layout, list(p.labels)


def test_the_new_project_form_offers_every_task_with_its_default_labels(
    web: TestClient, db: Database
) -> None:
    _user(db, "ada", "admin")
    _sign_in(web, "ada")
    page = web.get("/projects/new").text
    assert '<input type="radio" name="task" value="classification" data-labels="" checked>' in page
    assert 'value="sentence_selection" data-labels="include\nexclude"' in page
    assert "Default labels: ok, mistranslation, omission, addition, grammar, terminology." in page
    assert 'name="fields"' in page and 'name="primary_field"' in page
    assert '<option value="side_by_side" >side by side</option>' in page


@pytest.mark.parametrize(
    ("form", "shape"),
    [
        (
            {"task": "classification", "labels": "yes\nno", "fields": " question , answer,"},
            ("classification", ["question", "answer"], "question", "stacked", ["yes", "no"]),
        ),
        (
            {
                "task": "classification",
                "labels": "yes, no",
                "fields": "question, answer",
                "layout": "side_by_side",
                "primary_field": "answer",
            },
            ("classification", ["question", "answer"], "answer", "side_by_side", ["yes", "no"]),
        ),
        (
            {"task": "classification", "labels": "a\nb", "fields": "", "primary_field": "x"},
            ("classification", [], "text", "stacked", ["a", "b"]),
        ),
        (
            {"task": "translation_review", "labels": "", "fields": "question, answer"},
            (
                "translation_review",
                ["source", "translation"],
                "translation",
                "side_by_side",
                ["ok", "mistranslation", "omission", "addition", "grammar", "terminology"],
            ),
        ),
        (
            {"task": "translation_review", "labels": "fine\nwrong"},
            (
                "translation_review",
                ["source", "translation"],
                "translation",
                "side_by_side",
                ["fine", "wrong"],
            ),
        ),
        (
            {"task": "sentence_selection", "labels": " \n"},
            ("sentence_selection", [], "text", "stacked", ["include", "exclude"]),
        ),
    ],
    ids=[
        "fields",
        "fields-side-by-side",
        "one-text",
        "translation-default-labels",
        "translation-own-labels",
        "sentences-default-labels",
    ],
)
def test_the_new_project_form_creates_a_project_of_each_task(
    web: TestClient, db: Database, form: dict[str, str], shape: tuple[object, ...]
) -> None:
    _user(db, "ada", "admin")
    status, page = _create(web, _sign_in(web, "ada"), **form)
    assert status == 303, page
    assert _stored_shape(db, "mail") == shape


@pytest.mark.parametrize(
    ("form", "message"),
    [
        (
            {"fields": "Question, answer"},
            "Field name &#39;Question&#39;: use 1 to 40 lower-case letters, digits or _",
        ),
        ({"fields": "question, label"}, "Field name &#39;label&#39; is reserved"),
        ({"fields": "question, question"}, "Field names must be unique"),
        (
            {"fields": "question, answer", "primary_field": "text"},
            "The primary field &#39;text&#39; is not one of the fields: question, answer",
        ),
        ({"task": "summarisation"}, "Task: must be &#39;classification&#39;"),
    ],
    ids=["upper-case", "reserved", "twice", "primary-not-a-field", "unknown-task"],
)
def test_a_refused_task_shape_shows_the_form_again_naming_the_field(
    web: TestClient, db: Database, form: dict[str, str], message: str
) -> None:
    _user(db, "ada", "admin")
    status, page = _create(web, _sign_in(web, "ada"), labels="yes\nno", **form)
    assert status == 422 and message in page and "<form" in page
    assert f'value="{form.get("fields", "")}"' in page
    with db.reader() as session:
        assert session.scalar(select(func.count()).select_from(Project)) == 0
