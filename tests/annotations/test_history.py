"""Label history: a replaced label (single or bulk submit) and a label withdrawn by undo stay
readable, with who gave them and when; an item of another project is a 404."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient

from app.db import Database
from tests.factories import auth, create_project, create_user
from tests.security.conftest import sign_in


def _history(client: TestClient, token: str, pid: int, item_id: int) -> dict[str, Any]:
    response = client.get(f"/api/v1/projects/{pid}/items/{item_id}/history", headers=auth(token))
    assert response.status_code == 200, response.text
    return response.json()


def _item_ids(client: TestClient, token: str, pid: int) -> list[int]:
    """Items served to the caller (an annotator's items list holds only what they labelled)."""
    response = client.get(f"/api/v1/projects/{pid}/queue?limit=10", headers=auth(token))
    return [item["id"] for item in response.json()["items"]]


def test_replacing_a_label_keeps_the_old_one(client: TestClient, db: Database) -> None:
    project = create_project(db, n_items=5)
    _, token = create_user(db, name="ann", role="annotator")
    item = _item_ids(client, token, project.id)[0]
    url = f"/api/v1/projects/{project.id}/annotations"
    client.post(url, json={"item_id": item, "label": "food"}, headers=auth(token))
    assert _history(client, token, project.id, item)["history"] == []
    client.post(url, json={"item_id": item, "label": "sports"}, headers=auth(token))
    client.post(url, json={"item_id": item, "label": "sports"}, headers=auth(token))  # a retry

    found = _history(client, token, project.id, item)
    (now,) = found["current"]
    assert (now["annotator"], now["labels"], now["source"]) == ("ann", ["sports"], "human")
    (before,) = found["history"]
    assert (before["annotator"], before["labels"], before["change"]) == (
        "ann",
        ["food"],
        "replaced",
    )
    labelled, changed = (datetime.fromisoformat(before[k]) for k in ("labelled_at", "changed_at"))
    assert labelled <= changed and before["source"] == "human"


def test_bulk_replacements_are_kept(client: TestClient, db: Database) -> None:
    project = create_project(db, n_items=5)
    _, token = create_user(db, name="ann", role="annotator")
    a, b, c = _item_ids(client, token, project.id)[:3]
    url = f"/api/v1/projects/{project.id}/annotations/bulk"
    first = [{"item_id": a, "label": "food"}, {"item_id": b, "label": "food"}]
    assert client.post(url, json={"annotations": first}, headers=auth(token)).status_code == 200
    second = [
        {"item_id": a, "label": "sports"},  # replaces
        {"item_id": b, "label": "food"},  # the same again: nothing to keep
        {"item_id": c, "label": "weather"},  # new
    ]
    assert client.post(url, json={"annotations": second}, headers=auth(token)).status_code == 200

    replaced = _history(client, token, project.id, a)
    assert [h["labels"] for h in replaced["history"]] == [["food"]]
    assert [h["labels"] for h in replaced["current"]] == [["sports"]]
    assert _history(client, token, project.id, b)["history"] == []
    assert _history(client, token, project.id, c)["history"] == []


def test_undo_keeps_the_withdrawn_label_and_the_items_page_shows_it(
    client: TestClient, db: Database
) -> None:
    project = create_project(db, n_items=5)
    _, admin = create_user(db)
    item = _item_ids(client, admin, project.id)[0]
    csrf = sign_in(client, db, name="bo", role="annotator")
    htmx = {"X-CSRF-Token": csrf, "HX-Request": "true"}
    base = f"/projects/{project.id}/annotate"
    labelled = client.post(f"{base}/submit", data={"item_id": item, "label": "food"}, headers=htmx)
    assert labelled.status_code == 200
    relabelled = client.post(f"{base}/history/{item}", data={"label": "weather"}, headers=htmx)
    assert relabelled.status_code == 200
    assert client.post(f"{base}/undo", headers=htmx).status_code == 200

    found = _history(client, admin, project.id, item)
    assert found["current"] == []
    assert [(h["annotator"], h["labels"], h["change"]) for h in found["history"]] == [
        ("bo", ["weather"], "removed"),
        ("bo", ["food"], "replaced"),
    ]
    row = client.get(f"/projects/{project.id}/items/{item}/history", headers=htmx)
    assert row.status_code == 200 and row.text.lstrip().startswith("<tr")
    assert "removed" in row.text and "weather" in row.text and "replaced" in row.text
    # The annotator's items screen lists their own labelled items, each with its history.
    client.post(f"{base}/submit", data={"item_id": item, "label": "food"}, headers=htmx)
    assert (
        f'hx-get="/projects/{project.id}/items/{item}/history"'
        in client.get(f"/projects/{project.id}/items").text
    )


def test_seed_labels_show_without_annotator(client: TestClient, db: Database) -> None:
    project = create_project(db, n_items=3, n_labeled=1)
    _, admin = create_user(db)
    _, token = create_user(db, name="ann", role="annotator")
    listed = client.get(f"/api/v1/projects/{project.id}/items", headers=auth(admin)).json()
    item = listed["items"][0]["id"]  # the seed-labelled one
    (seed,) = _history(client, admin, project.id, item)["current"]
    assert (seed["annotator"], seed["source"]) == (None, "import")


def test_an_item_of_another_project_is_not_found(client: TestClient, db: Database) -> None:
    project = create_project(db, n_items=3)
    other = create_project(db, name="other", n_items=3)
    _, token = create_user(db, name="ann", role="annotator")
    foreign = _item_ids(client, token, other.id)[0]
    url = f"/api/v1/projects/{project.id}/items/{foreign}/history"
    response = client.get(url, headers=auth(token))
    assert response.status_code == 404 and f"item {foreign}" in response.json()["detail"]
    assert client.get(url).status_code == 401


def test_an_annotator_sees_only_their_own_labels_of_an_item(
    client: TestClient, db: Database
) -> None:
    project = create_project(db, n_items=3, overlap=2)
    _, admin = create_user(db)
    _, ann = create_user(db, name="ann", role="annotator")
    _, bo = create_user(db, name="bo", role="annotator")
    item = _item_ids(client, ann, project.id)[0]
    assert item in _item_ids(client, bo, project.id)  # overlap 2: both are asked
    url = f"/api/v1/projects/{project.id}/annotations"
    client.post(url, json={"item_id": item, "label": "food"}, headers=auth(ann))
    client.post(url, json={"item_id": item, "label": "sports"}, headers=auth(bo))
    seen = _history(client, ann, project.id, item)["current"]
    assert [(h["annotator"], h["labels"]) for h in seen] == [("ann", ["food"])]
    everyone = _history(client, admin, project.id, item)["current"]
    assert sorted(h["annotator"] for h in everyone) == ["ann", "bo"]
