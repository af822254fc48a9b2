"""``GET /queue``: the limit per request follows ``LABELLOOP_QUEUE_MAX_LIMIT``."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.models import Lease
from tests.factories import auth, create_project, create_user


def test_the_queue_limit_is_a_setting(settings: Settings, db: Database) -> None:
    project = create_project(db, n_items=30)
    _, token = create_user(db, name="bo", role="annotator")
    lowered = settings.model_copy(update={"queue_max_limit": 5})
    with TestClient(create_app(lowered, worker=False)) as client:
        path = f"/api/v1/projects/{project.id}/queue"
        over = client.get(path, params={"limit": 6}, headers=auth(token))
        assert over.status_code == 422 and "at most 5 items" in over.json()["detail"]
        with db.reader() as session:
            assert session.scalar(select(func.count()).select_from(Lease)) == 0
        ok = client.get(path, params={"limit": 5}, headers=auth(token))
        assert ok.status_code == 200 and len(ok.json()["items"]) == 5
