"""The model's JSON routes: ``GET /label-issues`` for reviewers, managers and admins, and what
``POST /predict`` refuses."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import Database
from tests.factories import add_member, auth, create_project, create_user, queue_and_work
from tests.training.test_issues import project_with_flipped_labels


def test_label_issues_are_listed_by_rank_for_reviewers_managers_and_admins(
    client: TestClient, db: Database, settings: Settings
) -> None:
    project, flipped = project_with_flipped_labels(db)
    run = queue_and_work(db, settings, project)
    _, admin = create_user(db)
    tokens = {"admin": admin}
    for role in ("reviewer", "manager"):
        user, tokens[role] = create_user(db, name=role, role="annotator", projects=[])
        add_member(db, project, user, role)
    for role, token in tokens.items():
        answer = client.get(f"/api/v1/projects/{project.id}/label-issues", headers=auth(token))
        assert answer.status_code == 200, (role, answer.text)
        body = answer.json()
        assert body["run_id"] == run.id
        assert [row["rank"] for row in body["issues"]] == list(range(len(body["issues"])))
        first = body["issues"][0]
        assert first["item_id"] in flipped and first["text"]
        assert first["labels"] != first["suggested"] and 0 <= first["score"] < 0.5
    page = client.get(
        f"/api/v1/projects/{project.id}/label-issues",
        params={"limit": 2, "offset": 1},
        headers=auth(admin),
    ).json()
    assert [row["rank"] for row in page["issues"]] == [1, 2]


def test_annotators_are_refused_and_other_projects_are_not_found(
    client: TestClient, db: Database
) -> None:
    project = create_project(db)
    other = create_project(db, name="other", members={})
    _, annotator = create_user(db, name="ann", role="annotator", projects=[project.id])
    reviewer, reviewer_token = create_user(db, name="rev", role="annotator", projects=[])
    add_member(db, project, reviewer, "reviewer")
    path = "/api/v1/projects/{}/label-issues"
    assert client.get(path.format(project.id), headers=auth(annotator)).status_code == 403
    assert client.get(path.format(other.id), headers=auth(reviewer_token)).status_code == 404
    empty = client.get(path.format(project.id), headers=auth(reviewer_token))
    assert empty.status_code == 200 and empty.json() == {"run_id": None, "issues": []}


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"texts": ["fine", "a\x00b"]}, ["body", "texts", 1]),
        ({"items": [{"fields": {"source": "a\x00b"}}]}, ["body", "items", 0, "fields", "source"]),
        (
            {"items": [{"fields": {"sou\x00rce": "a"}}]},
            ["body", "items", 0, "fields", "sou\x00rce"],
        ),
        ({"documents": [{"sentences": ["a", "\x00"]}]}, ["body", "documents", 0, "sentences", 1]),
    ],
    ids=["text", "field", "field-name", "sentence"],
)
def test_predict_refuses_nul_in_texts_fields_and_sentences(
    client: TestClient, db: Database, body: dict[str, Any], loc: list[str | int]
) -> None:
    project = create_project(db)
    _, token = create_user(db, name="ann", role="annotator")
    answer = client.post(f"/api/v1/projects/{project.id}/predict", json=body, headers=auth(token))
    assert answer.status_code == 422, answer.text
    problem = answer.json()["detail"][0]
    assert problem["loc"][: len(loc)] == loc and "NUL" in problem["msg"], problem


def test_predict_over_the_count_limit_names_it_without_echoing_the_texts(
    client: TestClient, db: Database
) -> None:
    project = create_project(db)
    _, token = create_user(db, name="ann", role="annotator")
    texts = ["x" * 2_000] * 1_001  # 2 MB
    answer = client.post(
        f"/api/v1/projects/{project.id}/predict", json={"texts": texts}, headers=auth(token)
    )
    assert answer.status_code == 422
    (problem,) = answer.json()["detail"]
    assert problem["loc"] == ["body", "texts"] and "at most 1000" in problem["msg"]
    assert "input" not in problem and len(answer.content) < 1_000
