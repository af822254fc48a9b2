"""The annotate screen sends the annotator's doubt with the label: an "Unsure" toggle with a
key, and an optional comment; a bad one is refused naming its field."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.db import Database
from app.models import Annotation, Item
from tests.factories import create_project
from tests.web.test_views import _sign_in, _user, web  # noqa: F401 - the fixture


def test_a_flagged_label_is_stored_with_its_comment(
    web: TestClient,  # noqa: F811
    db: Database,
) -> None:
    project = create_project(db, n_items=3)
    _user(db, "bo", "annotator")
    csrf = _sign_in(web, "bo")
    page = web.get(f"/projects/{project.id}/annotate").text
    assert 'id="unsure" aria-pressed="false" aria-keyshortcuts="?"' in page
    assert '<label for="comment">' in page and 'id="comment"' in page
    with db.reader() as session:
        item_id = session.scalars(select(Item.id).where(Item.project_id == project.id)).first()
    url = f"/projects/{project.id}/annotate/submit"
    headers = {"X-CSRF-Token": csrf, "HX-Request": "true"}
    form = {"item_id": str(item_id), "label": "food", "flag": "unsure", "comment": "maybe?"}
    assert web.post(url, data=form, headers=headers).status_code == 200
    with db.reader() as session:
        stored = session.scalar(select(Annotation).where(Annotation.item_id == item_id))
        assert stored is not None and (stored.flag, stored.comment) == ("unsure", "maybe?")
    bad = web.post(url, data={**form, "flag": "perhaps"}, headers=headers)
    assert bad.status_code == 422 and "flag" in bad.text
