"""GET /review and PUT /review/{item_id}: reviewers and up only; another project's item is
not found; the decision comes back with every label and the new outcome."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.db import Database
from app.models import Adjudication, Item
from tests.factories import auth, create_project, create_user
from tests.review.conftest import Team, shaped_in_review, standard_queue
from tests.web.shapes import PAIRS, sentence_project, translation_project


def test_reviewer_reads_the_queue_and_settles_an_item(
    client: TestClient, db: Database, team: Team
) -> None:
    standard_queue(db, team)
    url = f"/api/v1/projects/{team.project.id}/review"
    page = client.get(url, params={"limit": 2}, headers=auth(team.tokens["rev"]))
    assert page.status_code == 200, page.text
    body = page.json()
    assert [i["item_id"] for i in body["items"]] == [team.items[0], team.items[2]]
    assert body["next_after"] == team.items[2]
    first = body["items"][0]
    assert first["reasons"] == ["disagreement"] and first["outcome"]["status"] == "disagreement"
    assert {a["annotator"]: a["labels"] for a in first["annotations"]} == {
        "ann1": ["sports"],
        "ann2": ["food"],
    }
    rest = client.get(url, params={"after": body["next_after"]}, headers=auth(team.tokens["rev"]))
    assert [i["item_id"] for i in rest.json()["items"]] == [team.items[3]]
    assert rest.json()["items"][0]["model_guess"]["labels"] == ["sports"]

    decided = client.put(
        f"{url}/{team.items[0]}",
        json={"label": "food", "note": "bread"},
        headers=auth(team.tokens["rev"]),
    )
    assert decided.status_code == 200, decided.text
    out = decided.json()
    assert out["outcome"] == {"status": "adjudicated", "labels": ["food"], "agreement": 0.5}
    assert out["adjudication"]["reviewer"] == "rev" and out["adjudication"]["note"] == "bread"
    assert len(out["annotations"]) == 2  # kept beside the decision
    again = client.get(url, headers=auth(team.tokens["rev"])).json()
    assert team.items[0] not in [i["item_id"] for i in again["items"]]


def test_annotators_are_refused_and_other_projects_items_not_found(
    client: TestClient, db: Database, team: Team
) -> None:
    standard_queue(db, team)
    url = f"/api/v1/projects/{team.project.id}/review"
    assert client.get(url, headers=auth(team.tokens["ann1"])).status_code == 403
    refused = client.put(
        f"{url}/{team.items[0]}", json={"label": "food"}, headers=auth(team.tokens["ann1"])
    )
    assert refused.status_code == 403
    other = create_project(db, name="other", n_items=1)
    with db.reader() as session:
        foreign = session.scalar(select(Item.id).where(Item.project_id == other.id))
    missing = client.put(
        f"{url}/{foreign}", json={"label": "food"}, headers=auth(team.tokens["rev"])
    )
    assert missing.status_code == 404
    bad = client.put(
        f"{url}/{team.items[0]}",
        json={"label": "food", "note": 3},
        headers=auth(team.tokens["rev"]),
    )
    assert bad.status_code == 422 and "note" in bad.text
    with db.reader() as session:
        assert session.scalar(select(func.count()).select_from(Adjudication)) == 0


def test_multi_label_items_are_settled_with_a_label_list(client: TestClient, db: Database) -> None:
    _, admin = create_user(db, name="boss", role="admin")
    project = create_project(db, name="multi", n_items=2, multi_label=True)
    with db.reader() as session:
        item_id = session.scalar(select(Item.id).where(Item.project_id == project.id))
    url = f"/api/v1/projects/{project.id}/review/{item_id}"
    single = client.put(url, json={"label": "food"}, headers=auth(admin))
    assert single.status_code == 200  # one label is a set of one in a multi-label project
    both = client.put(url, json={"labels": ["food", "sports"]}, headers=auth(admin))
    assert both.status_code == 200, both.text
    assert both.json()["outcome"]["labels"] == ["food", "sports"]
    assert both.json()["adjudication"]["reason"] == "manual"
    repeated = client.put(url, json={"labels": ["food", "food"]}, headers=auth(admin))
    assert repeated.status_code == 422 and "repeat" in repeated.text


def test_a_translation_review_item_carries_its_fields_and_each_correction(
    client: TestClient, db: Database
) -> None:
    project = translation_project(db)
    votes = {"ann1": ("omission", "The dog sleeps in the garden today."), "ann2": ("ok", None)}
    shaped = shaped_in_review(db, project, votes)
    url = f"/api/v1/projects/{project.id}/review"
    (entry,) = client.get(url, headers=auth(shaped.tokens["rev"])).json()["items"]
    source, translation = PAIRS[0]
    assert entry["fields"] == {"source": source, "translation": translation}
    assert entry["text"] == translation and entry["document"] is None
    assert {a["annotator"]: a["correction"] for a in entry["annotations"]} == {
        "ann1": "The dog sleeps in the garden today.",
        "ann2": None,
    }


def test_a_sentence_in_review_names_its_document_and_place(
    client: TestClient, db: Database
) -> None:
    project = sentence_project(db, ["One here. Two there. Three."])
    votes = {"ann1": ("include", None), "ann2": ("exclude", None)}
    shaped = shaped_in_review(db, project, votes)
    url = f"/api/v1/projects/{project.id}/review"
    (entry,) = client.get(url, headers=auth(shaped.tokens["rev"])).json()["items"]
    assert entry["fields"] is None and entry["text"] == "One here."
    place = entry["document"]
    assert (place["external_id"], place["position"], place["start"], place["end"]) == (
        "doc0",
        0,
        0,
        9,
    )
    document = client.get(
        f"/api/v1/projects/{project.id}/documents/{place['id']}",
        headers=auth(shaped.tokens["rev"]),
    )
    assert document.status_code == 200 and document.json()["external_id"] == "doc0"
