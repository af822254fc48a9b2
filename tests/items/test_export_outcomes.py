"""The export says how each row's item got its final label: individual, consensus or
adjudicated (disagreement and pending while it has none), with that label; an annotator's
own rows leave both empty."""

from __future__ import annotations

import csv
import io
import json

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.db import Database
from app.models import Item, Project
from tests.factories import auth, create_project, create_user
from tests.review.conftest import Team, label, standard_queue
from tests.review.conftest import team as team  # noqa: F401 - the fixture


def _csv(client: TestClient, project_id: int, token: str) -> list[dict[str, str]]:
    response = client.get(f"/api/v1/projects/{project_id}/export?format=csv", headers=auth(token))
    assert response.status_code == 200, response.text
    return list(csv.DictReader(io.StringIO(response.text)))


def _by_item(rows: list[dict[str, str]]) -> dict[int, tuple[str, str]]:
    return {int(r["item_id"]): (r["outcome"], r["final_label"]) for r in rows}


def test_rows_say_consensus_disagreement_pending_and_adjudicated(
    client: TestClient,
    db: Database,
    team: Team,  # noqa: F811
) -> None:
    standard_queue(db, team)
    i, rev = team.items, team.tokens["rev"]
    rows = _csv(client, team.project.id, rev)
    header = ",".join(list(rows[0])[:7])  # the columns there were, first and in order
    assert header == "item_id,external_id,text,label,annotator,source,annotated_at"
    found = _by_item(rows)
    assert found[i[0]] == ("disagreement", "")
    assert found[i[1]] == ("consensus", "weather")
    assert found[i[2]] == ("pending", "")
    put = client.put(
        f"/api/v1/projects/{team.project.id}/review/{i[0]}",
        json={"label": "food"},
        headers=auth(rev),
    )
    assert put.status_code == 200
    after = _csv(client, team.project.id, rev)
    assert len(after) == len(rows)  # the decision adds no row: it is beside them
    assert [r["label"] for r in after if r["item_id"] == str(i[0])] == ["sports", "food"]
    assert _by_item(after)[i[0]] == ("adjudicated", "food")
    jsonl = client.get(
        f"/api/v1/projects/{team.project.id}/export?format=jsonl", headers=auth(rev)
    ).text
    records = {json.loads(line)["item_id"]: json.loads(line) for line in jsonl.splitlines()}
    assert (records[i[0]]["outcome"], records[i[0]]["final_label"]) == ("adjudicated", "food")


def test_an_annotators_own_rows_do_not_tell_the_others_labels(
    client: TestClient,
    db: Database,
    team: Team,  # noqa: F811
) -> None:
    standard_queue(db, team)
    rows = _csv(client, team.project.id, team.tokens["ann1"])
    assert {r["annotator"] for r in rows} == {"ann1"}
    assert {(r["outcome"], r["final_label"]) for r in rows} == {("", "")}


def test_overlap_one_rows_are_individual(client: TestClient, db: Database) -> None:
    user, token = create_user(db, name="solo", role="admin")
    project = create_project(db, n_items=2)
    with db.reader() as session:
        stored = session.get_one(Project, project.id)
    solo = Team(stored, [], user, user, user, {})

    with db.reader() as session:
        item_id = session.scalars(select(Item.id).where(Item.project_id == project.id)).first()
    assert item_id is not None
    label(db, solo, user, item_id, "food")
    assert _by_item(_csv(client, project.id, token)) == {item_id: ("individual", "food")}
