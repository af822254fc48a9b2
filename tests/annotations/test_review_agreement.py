"""Agreement with the reviewer: per annotator, the share of their labels on adjudicated items
that equal the reviewer's final label (none before any review)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.db import Database
from tests.factories import auth
from tests.review.conftest import Team, standard_queue
from tests.review.conftest import team as team  # noqa: F401 - the fixture


def _per_annotator(client: TestClient, team: Team) -> dict[str, tuple[float | None, int]]:
    url = f"/api/v1/projects/{team.project.id}/agreement"
    body = client.get(url, headers=auth(team.tokens["rev"])).json()
    return {a["annotator"]: (a["review_agreement"], a["review_n"]) for a in body["annotators"]}


def test_agreement_with_the_reviewer_follows_the_decisions(
    client: TestClient,
    db: Database,
    team: Team,  # noqa: F811
) -> None:
    standard_queue(db, team)
    assert _per_annotator(client, team) == {"ann1": (None, 0), "ann2": (None, 0)}
    url = f"/api/v1/projects/{team.project.id}/review"
    rev = auth(team.tokens["rev"])
    assert client.put(f"{url}/{team.items[0]}", json={"label": "food"}, headers=rev).is_success
    assert client.put(f"{url}/{team.items[2]}", json={"label": "food"}, headers=rev).is_success
    # item 0: ann1 said sports, ann2 food; item 2 (flagged): ann1 said food
    assert _per_annotator(client, team) == {"ann1": (0.5, 2), "ann2": (1.0, 1)}
