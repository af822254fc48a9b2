"""An annotator's doubt: the "unsure" flag and a comment, stored with the label (API and web)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.annotations import idempotency
from app.annotations.endpoints import AnnotationIn, BulkAnnotationsIn, _fingerprinted
from app.db import Database
from app.models import Annotation, Project
from tests.factories import auth, create_project, create_user


def _annotation(db: Database, item_id: int) -> Annotation:
    with db.reader() as session:
        found = session.scalar(select(Annotation).where(Annotation.item_id == item_id))
        assert found is not None
        return found


def _start(client: TestClient, db: Database) -> tuple[Project, str, int]:
    """A project, an annotator's token and the project's first item."""
    project = create_project(db, n_items=3)
    _, token = create_user(db, name="ann", role="annotator")
    # The queue, not the items list: an annotator's list holds only what they labelled.
    items = client.get(f"/api/v1/projects/{project.id}/queue", headers=auth(token)).json()
    return project, token, items["items"][0]["id"]


def _events(db: Database, project: Project) -> int:
    with db.reader() as session:
        return session.get_one(Project, project.id).label_events


def test_flag_and_comment_are_stored_and_replaced_with_the_label(
    client: TestClient, db: Database
) -> None:
    project, token, item_id = _start(client, db)
    url = f"/api/v1/projects/{project.id}/annotations"
    body = {"item_id": item_id, "label": "food", "flag": "unsure", "comment": " soup or sport? "}
    first = client.post(url, json=body, headers=auth(token))
    assert first.status_code == 201, first.text
    assert first.json()["flag"] == "unsure" and first.json()["comment"] == "soup or sport?"
    stored = _annotation(db, item_id)
    assert (stored.flag, stored.comment) == ("unsure", "soup or sport?")
    events = _events(db, project)
    sure = client.post(url, json={"item_id": item_id, "label": "food"}, headers=auth(token))
    assert sure.status_code == 200 and sure.json()["flag"] is None
    assert (_annotation(db, item_id).flag, _annotation(db, item_id).comment) == (None, None)
    assert _events(db, project) == events  # the label did not change: no label event


def test_a_bad_flag_or_a_long_comment_is_refused_naming_the_field(
    client: TestClient, db: Database
) -> None:
    project, token, item_id = _start(client, db)
    url = f"/api/v1/projects/{project.id}/annotations"
    flag = client.post(
        url, json={"item_id": item_id, "label": "food", "flag": "maybe"}, headers=auth(token)
    )
    assert flag.status_code == 422 and "flag" in flag.text
    long = client.post(
        url, json={"item_id": item_id, "label": "food", "comment": "x" * 2001}, headers=auth(token)
    )
    assert long.status_code == 422 and "comment" in long.text
    with db.reader() as session:
        assert session.scalar(select(Annotation.id)) is None


def test_bulk_entries_carry_their_own_flags(client: TestClient, db: Database) -> None:
    project = create_project(db, n_items=3)
    _, token = create_user(db, name="ann", role="annotator")
    items = client.get(f"/api/v1/projects/{project.id}/queue", headers=auth(token)).json()["items"]
    entries = [
        {"item_id": items[0]["id"], "label": "food", "comment": "typo in the text"},
        {"item_id": items[1]["id"], "label": "sports"},
    ]
    response = client.post(
        f"/api/v1/projects/{project.id}/annotations/bulk",
        json={"annotations": entries},
        headers=auth(token),
    )
    assert response.status_code == 200, response.text
    assert _annotation(db, items[0]["id"]).comment == "typo in the text"
    assert _annotation(db, items[1]["id"]).comment is None


def test_a_body_without_doubt_fingerprints_as_before_flags_existed() -> None:
    path = "/projects/1/annotations"
    before = {"item_id": 7, "label": "food", "labels": None}  # the body's dump until now
    now = _fingerprinted(AnnotationIn(item_id=7, label="food").model_dump())
    assert idempotency.fingerprint("POST", path, now) == idempotency.fingerprint(
        "POST", path, before
    )
    bulk = BulkAnnotationsIn(annotations=[AnnotationIn(item_id=7, label="food")]).model_dump()
    assert _fingerprinted(bulk) == {"annotations": [before]}
    flagged = AnnotationIn(item_id=7, label="food", flag="unsure").model_dump()
    assert _fingerprinted(flagged)["flag"] == "unsure"  # a doubt is part of the request
