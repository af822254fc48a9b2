"""The annotate screen's retries: a label sent again with its idempotency key is stored once,
even when the annotator changed it in between; the same key with another label is refused."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.db import Database
from app.models import Annotation, Item, Project
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
