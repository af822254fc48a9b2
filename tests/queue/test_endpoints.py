"""``GET /queue``: the limit per request follows ``LABELLOOP_QUEUE_MAX_LIMIT``, and an audit
item is served marked and blind."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.models import Item, Lease, Suggestion
from tests.factories import (
    auth,
    create_oracle,
    create_project,
    create_user,
    queue_and_work,
)


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


def _suggest_everything(db: Database, project_id: int) -> None:
    """An oracle answer ("food") for every unlabelled item of the project."""
    oracle_id = create_oracle(db, project_id, name="kb", kind="http", config={"url": "-"})
    with db.writer() as session, session.begin():
        for item_id in session.scalars(select(Item.id).where(Item.project_id == project_id)):
            session.add(
                Suggestion(
                    project_id=project_id, item_id=item_id, oracle_id=oracle_id,
                    labels=["food"], model="m", prompt_version="1", latency_seconds=0.0,
                )
            )  # fmt: skip


def test_an_audit_item_is_marked_and_served_without_guess_or_suggestion(
    settings: Settings, db: Database, client: TestClient
) -> None:
    project = create_project(db, n_items=40, n_labeled=20, audit_share=0.1)
    queue_and_work(db, settings, project)  # ranks every unlabelled item, audit ones too
    _suggest_everything(db, project.id)
    _, token = create_user(db, name="bo", role="annotator")
    path = f"/api/v1/projects/{project.id}/queue"
    items = client.get(path, params={"limit": 4}, headers=auth(token)).json()["items"]
    with db.reader() as session:
        audit = set(session.scalars(select(Item.id).where(Item.audit)))
    assert len(audit) == 2  # 10 % of the 20 labels and these 4 items
    for item in items:
        blind = item["id"] in audit
        assert item["audit"] is blind, item
        assert (item["prediction"] is None) is blind, item
        assert (item["suggestion"] is None) is blind, item
