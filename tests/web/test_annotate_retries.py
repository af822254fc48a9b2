"""The annotate screen's retries: a label sent again with its idempotency key is stored once,
even when the annotator changed it in between; the same key with another label is refused; a
label sent after the session ended is refused in a way no script can take for success."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.audit.service import CLI
from app.db import Database
from app.models import Annotation, Item, Project
from app.users import service as users
from tests.factories import create_project
from tests.web.test_views import _sign_in, _user, web  # noqa: F401 - the fixture


def test_a_retried_label_is_stored_once(web: TestClient, db: Database) -> None:  # noqa: F811
    project = create_project(db, n_items=5)
    _user(db, "bo", "annotator")
    csrf = _sign_in(web, "bo")
    web.get(f"/projects/{project.id}/annotate")
    with db.reader() as session:
        item_id = session.scalars(select(Item.id).where(Item.project_id == project.id)).first()
    url = f"/projects/{project.id}/annotate/submit"
    headers = {"X-CSRF-Token": csrf, "HX-Request": "true", "Idempotency-Key": "label-1"}
    form = {"item_id": str(item_id), "label": "food", "have": ""}
    assert web.post(url, data=form, headers=headers).status_code == 200
    relabel = f"/projects/{project.id}/annotate/history/{item_id}"
    web.post(relabel, data={"label": "sports"}, headers={"X-CSRF-Token": csrf})
    with db.reader() as session:
        events = session.get_one(Project, project.id).label_events
    retried = web.post(url, data=form, headers=headers)  # the first answer was lost
    assert retried.status_code == 200 and "data-item-id" in retried.text
    with db.reader() as session:
        stored = session.scalars(select(Annotation.labels)).all()
        assert session.get_one(Project, project.id).label_events == events
    assert stored == [["sports"]]
    other = web.post(url, data={**form, "label": "weather"}, headers=headers)
    assert other.status_code == 422 and "label-1" in other.text


def test_a_label_sent_after_the_session_ended_is_refused_and_signs_in_back_to_the_page(
    web: TestClient,  # noqa: F811
    db: Database,
) -> None:
    project = create_project(db, n_items=5)
    _user(db, "bo", "annotator")
    csrf = _sign_in(web, "bo")
    page = f"/projects/{project.id}/annotate"
    assert web.get(page).status_code == 200
    with db.writer() as session, session.begin():  # an admin's reset ends bo's sessions
        bo = users.get_by_name(session, "bo")
        assert bo is not None
        users.reset_password(session, bo, "a-new-password", revoke_tokens=False, actor=CLI)
    with db.reader() as session:
        item_id = session.scalars(select(Item.id).where(Item.project_id == project.id)).first()
    headers = {
        "X-CSRF-Token": csrf,
        "HX-Request": "true",
        "HX-Current-URL": f"http://testserver{page}",
        "Idempotency-Key": "label-1",
    }
    form = {"item_id": str(item_id), "label": "food", "have": ""}
    refused = web.post(f"{page}/submit", data=form, headers=headers)
    # not a 2xx: the outbox keeps the label; htmx and people are sent to sign in, then back
    assert refused.status_code == 401
    assert refused.headers["HX-Redirect"] == f"/login?next={page}"
    poll = web.get(
        f"{page}/progress", headers={**headers, "HX-Current-URL": "http://x//evil.example"}
    )
    assert poll.status_code == 401 and poll.headers["HX-Redirect"] == "/login?next=/"
    with db.reader() as session:
        assert session.scalars(select(Annotation.id)).all() == []
