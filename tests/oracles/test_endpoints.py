"""The oracle API: configuration checked when saved, another project's oracle not found, the
suggestion in the queue and the label that accepts or changes it, and the trust figures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.models import Annotation, Item, Oracle
from tests.factories import auth, create_project, create_user
from tests.oracles import knowledge
from tests.oracles.knowledge import TRUTH, _topic_text
from tests.oracles.test_prelabel import add_oracle, allowed, drain  # noqa: F401 - a fixture

__all__ = ["allowed"]
PUBLIC = {"base_url": "http://1.1.1.1/v1", "model": "m"}


@pytest.fixture
def api(allowed: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(allowed, worker=False)) as client:
        yield client


def _count(db: Database, model: type) -> int:
    with db.reader() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_configuration_is_checked_when_saved_and_nothing_is_stored_when_refused(
    client: TestClient, db: Database
) -> None:
    _, admin = create_user(db, name="ada", role="admin")
    project = create_project(db)
    url = f"/api/v1/projects/{project.id}/oracles"
    cases = {
        "config.base_url": {"base_url": "not a url", "model": "m"},
        "config.model": {"base_url": "http://1.1.1.1/v1"},
        "environment variable": {**PUBLIC, "api_key_env": "sk-live-123 pasted key"},
        "LABELLOOP_ORACLE_HOSTS": {"base_url": "http://127.0.0.1:8080/v1", "model": "m"},
        "169.254.169.254": {"base_url": "http://169.254.169.254/v1", "model": "m"},
        "no credentials in the URL": {"base_url": "http://me:sk-123@1.1.1.1/v1", "model": "m"},
    }
    for needle, config in cases.items():
        body = {"name": "llm", "kind": "openai", "config": config}
        refused = client.post(url, json=body, headers=auth(admin))
        assert refused.status_code == 422, refused.text
        assert needle in refused.text, refused.text
    assert _count(db, Oracle) == 0
    body = {"name": "llm", "kind": "openai", "config": PUBLIC, "budget_calls": 10}
    added = client.post(url, json=body, headers=auth(admin))
    assert added.status_code == 201, added.text
    assert added.json()["config"]["temperature"] == 0.0  # defaults filled in
    assert client.post(url, json=body, headers=auth(admin)).status_code == 409


def test_another_projects_oracle_is_not_found_through_ones_own(
    client: TestClient, db: Database
) -> None:
    _, admin = create_user(db, name="ada", role="admin")
    mine, theirs = create_project(db, name="mine"), create_project(db, name="theirs")
    body = {"name": "llm", "kind": "openai", "config": PUBLIC}
    theirs_url = f"/api/v1/projects/{theirs.id}/oracles"
    oracle_id = client.post(theirs_url, json=body, headers=auth(admin)).json()["id"]
    url = f"/api/v1/projects/{mine.id}/oracles/{oracle_id}"
    assert client.get(f"{url}/stats", headers=auth(admin)).status_code == 404
    assert client.patch(url, json={"enabled": False}, headers=auth(admin)).status_code == 404
    assert client.delete(url, headers=auth(admin)).status_code == 404
    assert client.get(theirs_url, headers=auth(admin)).json()[0]["enabled"] is True


def test_a_shown_suggestion_is_accepted_or_changed_by_the_label(
    api: TestClient, db: Database, allowed: Settings
) -> None:
    project = create_project(db, n_items=12)
    _, token = create_user(db, name="ann", role="annotator")
    with knowledge.serve("right") as kb:
        add_oracle(db, project, kb.url)
        drain(db, allowed)
    queue = api.get(f"/api/v1/projects/{project.id}/queue?limit=3", headers=auth(token)).json()
    first, second, third = queue["items"]
    for item in (first, second, third):
        assert item["suggestion"]["labels"] == [TRUTH[_topic_text(item["text"])]]
        assert item["suggestion"]["oracle"] == "kb"
    url = f"/api/v1/projects/{project.id}/annotations"
    wrong = {"item_id": third["id"], "label": "food", "suggestion_id": first["suggestion"]["id"]}
    refused = api.post(url, json=wrong, headers=auth(token))
    assert refused.status_code == 422 and "suggestion_id" in refused.text
    assert _count(db, Annotation) == 0
    accepted = first["suggestion"]["labels"][0]
    changed = next(x for x in ("sports", "food") if x != second["suggestion"]["labels"][0])
    for item, label in ((first, accepted), (second, changed)):
        body = {"item_id": item["id"], "label": label, "suggestion_id": item["suggestion"]["id"]}
        assert api.post(url, json=body, headers=auth(token)).status_code == 201
    with db.reader() as session:
        rows = session.execute(select(Annotation.item_id, Annotation.suggestion))
        marks = {item_id: mark for item_id, mark in rows}
        sources = set(session.scalars(select(Annotation.source)))
    assert marks == {first["id"]: "accepted", second["id"]: "changed"}
    assert sources == {"human"}


def test_the_trust_figures_come_from_items_people_labelled(
    api: TestClient, db: Database, allowed: Settings
) -> None:
    project = create_project(db, n_items=40)
    _, admin = create_user(db, name="ada", role="admin")
    with knowledge.serve("mixed") as kb:  # wrong about one text in seven
        oracle_id = add_oracle(db, project, kb.url)
        drain(db, allowed)
    url = f"/api/v1/projects/{project.id}/oracles/{oracle_id}/stats"
    before = api.get(url, headers=auth(admin)).json()
    assert before["answered"] == 40 and before["coverage"] == 1.0
    assert before["trust"]["n"] == 0 and before["trust"]["accuracy"] is None
    with db.reader() as session:
        items = list(session.execute(select(Item.id, Item.text).order_by(Item.id).limit(21)))
    for item_id, text in items:
        body = {"item_id": item_id, "label": TRUTH[_topic_text(text)]}
        posted = api.post(
            f"/api/v1/projects/{project.id}/annotations", json=body, headers=auth(admin)
        )
        assert posted.status_code == 201
    trust = api.get(url, headers=auth(admin)).json()["trust"]
    wrong = sum(int(text.rsplit(" ", 1)[-1]) % 7 == 0 for _, text in items)
    assert trust["n"] == 21 and wrong >= 2
    assert trust["accuracy"] == pytest.approx((21 - wrong) / 21)
    assert trust["interval"]["low"] < trust["accuracy"] < trust["interval"]["high"]
    assert 0 < trust["macro_f1"] < 1
    assert trust["route"]["open"] is False and trust["route"]["n"] == 0


def test_a_failed_answer_is_never_shown_as_a_suggestion(
    api: TestClient, db: Database, allowed: Settings
) -> None:
    project = create_project(db, n_items=4)
    _, token = create_user(db, name="ann", role="annotator")
    with knowledge.serve("error") as kb:
        add_oracle(db, project, kb.url)
        drain(db, allowed)
    queue = api.get(f"/api/v1/projects/{project.id}/queue?limit=4", headers=auth(token)).json()
    assert len(queue["items"]) == 4
    assert [item["suggestion"] for item in queue["items"]] == [None] * 4
