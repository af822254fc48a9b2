"""The annotate screen's sidebar and empty screen: the last few labels, each named in full; with
overlap, why nothing is left for this annotator."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.annotations.service import submit
from app.db import Database
from app.models import Item, Project, User
from app.web.annotate import HISTORY_SHOWN
from tests.factories import create_project
from tests.web.test_views import _sign_in, _user, web  # noqa: F401 - the fixture

LONG = "a label long enough to be cut by any select box on a phone screen"


def test_the_history_shows_the_last_labels_in_full(
    web: TestClient,  # noqa: F811
    db: Database,
) -> None:
    project = create_project(db, n_items=12, labels=["food", LONG])
    _user(db, "bo", "annotator")
    csrf = _sign_in(web, "bo")
    assert csrf
    with db.writer() as session, session.begin():
        bo = session.scalars(select(User).where(User.name == "bo")).one()
        p = session.get_one(Project, project.id)
        for item_id in session.scalars(select(Item.id).where(Item.project_id == project.id)):
            submit(session, p, bo, item_id=item_id, labels=[LONG])
    page = web.get(f"/projects/{project.id}/annotate").text
    shown = re.findall(r'data-testid="history-label">([^<]*)<', page)
    assert shown == [LONG] * HISTORY_SHOWN  # 12 labels given, the last few shown


def test_with_overlap_the_empty_screen_says_the_others_have_the_items(
    web: TestClient,  # noqa: F811
    db: Database,
) -> None:
    project = create_project(db, n_items=2, overlap=2)
    _user(db, "bo", "annotator")
    _sign_in(web, "bo")
    with db.writer() as session, session.begin():
        bo = session.scalars(select(User).where(User.name == "bo")).one()
        p = session.get_one(Project, project.id)
        for item_id in session.scalars(select(Item.id).where(Item.project_id == project.id)):
            submit(session, p, bo, item_id=item_id, labels=["food"])
    page = web.get(f"/projects/{project.id}/annotate").text
    assert "each item is asked of 2 annotators" in page
    assert "All 2 items are labelled" not in page  # they wait for a second annotator
