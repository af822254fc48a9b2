"""The annotate screen holds no more leases than the API's queue limit, whatever the page
claims to hold."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.config import Settings
from app.db import Database
from app.models import Lease
from tests.factories import create_project
from tests.web.test_views import _sign_in, _user, web  # noqa: F401 - the fixture


def test_a_page_claiming_hundreds_of_items_gets_no_more_than_the_queue_limit(
    web: TestClient,  # noqa: F811
    db: Database,
    settings: Settings,
) -> None:
    project = create_project(db, n_items=500)
    _user(db, "bo", "annotator")
    csrf = _sign_in(web, "bo")
    claimed = ",".join(str(n) for n in range(1, 401))
    for _ in range(3):
        page = web.post(
            f"/projects/{project.id}/annotate/skip",
            data={"item_id": "1", "have": claimed},
            headers={"X-CSRF-Token": csrf},
        )
        assert page.status_code == 200, page.text
    with db.reader() as session:
        # the skipped item's lease stays as a marker (not served to this user again)
        held = session.scalar(select(func.count()).where(Lease.skipped.is_(False))) or 0
    assert 0 < held <= settings.queue_max_limit
