"""Task shapes: defaults per task, checks of field names, and the API that describes them."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app.db import Database
from app.projects.shape import Shape
from tests.factories import auth, create_user


def test_translation_review_takes_its_defaults() -> None:
    shape = Shape(task="translation_review")
    assert shape.fields == ["source", "translation"]
    assert (shape.primary_field, shape.layout) == ("translation", "side_by_side")
    assert shape.multi_field and shape.corrections and not shape.sentences


def test_plain_classification_stores_no_fields() -> None:
    shape = Shape()
    assert (shape.fields, shape.stored_fields, shape.primary_field) == (["text"], [], "text")
    two = Shape(fields=["question", "answer"])
    assert two.primary_field == "question" and two.stored_fields == ["question", "answer"]


@pytest.mark.parametrize(
    ("body", "word"),
    [
        ({"task": "translation_review", "fields": ["src", "mt"]}, "source and translation"),
        ({"task": "sentence_selection", "fields": ["a", "b"]}, "one field text"),
        ({"fields": ["a", "a"]}, "unique"),
        ({"fields": ["Bad Name"]}, "lower-case"),
        ({"fields": ["label"]}, "reserved"),
        ({"fields": ["a", "b"], "primary_field": "c"}, "primary_field"),
    ],
)
def test_refuses_bad_shapes(body: dict[str, object], word: str) -> None:
    with pytest.raises(ValidationError, match=word):
        Shape.model_validate(body)


def test_api_describes_the_shape_and_defaults_labels(client: TestClient, db: Database) -> None:
    _, admin = create_user(db, role="admin")
    body = {"name": "mt", "task": "translation_review"}
    created = client.post("/api/v1/projects", json=body, headers=auth(admin))
    assert created.status_code == 201, created.text
    project = created.json()
    assert project["task"] == "translation_review"
    assert project["fields"] == ["source", "translation"]
    assert (project["primary_field"], project["layout"]) == ("translation", "side_by_side")
    assert project["labels"][0] == "ok"
    plain = client.post(
        "/api/v1/projects", json={"name": "p", "labels": ["a", "b"]}, headers=auth(admin)
    ).json()
    assert (plain["task"], plain["fields"], plain["primary_field"]) == (
        "classification",
        ["text"],
        "text",
    )
    bad = client.post(
        "/api/v1/projects",
        json={"name": "x", "labels": ["a", "b"], "fields": ["a", "a"]},
        headers=auth(admin),
    )
    assert bad.status_code == 422 and "unique" in bad.text
    no_labels = client.post("/api/v1/projects", json={"name": "y"}, headers=auth(admin))
    assert no_labels.status_code == 422 and "labels" in no_labels.text


def test_shape_cannot_change_once_there_are_items(client: TestClient, db: Database) -> None:
    _, admin = create_user(db, role="admin")
    body = {"name": "qa", "labels": ["good", "bad"], "fields": ["question", "answer"]}
    project = client.post("/api/v1/projects", json=body, headers=auth(admin)).json()
    url = f"/api/v1/projects/{project['id']}"
    changed = client.patch(url, json={"fields": ["context", "text"]}, headers=auth(admin))
    assert changed.status_code == 200 and changed.json()["fields"] == ["context", "text"]
    data = b'{"context": "c", "text": "t"}\n'
    files = {"file": ("rows.jsonl", data, "application/x-ndjson")}
    imported = client.post(f"{url}/imports", files=files, headers=auth(admin))
    assert imported.status_code == 201, imported.text
    refused = client.patch(url, json={"task": "sentence_selection"}, headers=auth(admin))
    assert refused.status_code == 409 and "1 items" in refused.json()["detail"]
    assert client.get(url, headers=auth(admin)).json()["fields"] == ["context", "text"]
    layout = client.patch(url, json={"layout": "side_by_side"}, headers=auth(admin))
    assert layout.status_code == 200 and layout.json()["layout"] == "side_by_side"
