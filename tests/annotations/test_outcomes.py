"""An imported label stays final while members agree with it; a member who labels the item
otherwise sends it to review instead of being overruled in silence; the dashboard counts items
by their final label."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.annotations.outcomes import final_label_counts, item_outcomes
from app.db import Database
from app.models import Item, Project
from app.projects.service import options as project_options
from tests.factories import add_member, auth, create_project, create_user


def _statuses(db: Database, project_id: int) -> dict[int, tuple[str, tuple[str, ...]]]:
    with db.reader() as session:
        project = session.get_one(Project, project_id)
        found = item_outcomes(session, project_id, project_options(project), multi_label=False)
    return {i: (o.outcome.status, o.outcome.labels) for i, o in found.items()}


def test_a_member_disagreeing_with_an_imported_label_sends_the_item_to_review(
    client: TestClient, db: Database
) -> None:
    project = create_project(db, n_items=6, n_labeled=3)
    _, token = create_user(db, name="ann", role="annotator", password="ann-password")
    reviewer, reviewer_token = create_user(db, name="rev", role="annotator", password="rev-pw-1")
    with db.reader() as session:
        rows = session.execute(
            select(Item.id, Item.text).where(Item.project_id == project.id).order_by(Item.id)
        ).all()
    before = _statuses(db, project.id)
    agree, differ = rows[0][0], rows[1][0]
    kept = before[agree][1][0]
    other = next(label for label in ("sports", "food", "weather") if label != before[differ][1][0])
    url = f"/api/v1/projects/{project.id}"
    for item_id, label in ((agree, kept), (differ, other)):
        sent = client.post(
            f"{url}/annotations", json={"item_id": item_id, "label": label}, headers=auth(token)
        )
        assert sent.status_code == 201, sent.text

    after = _statuses(db, project.id)
    assert after[agree] == ("individual", (kept,))
    assert after[differ] == ("disagreement", ())
    assert after[rows[2][0]] == before[rows[2][0]]  # untouched imported labels stay final
    add_member(db, project, reviewer, "reviewer")
    queue = client.get(f"{url}/review", headers=auth(reviewer_token)).json()["items"]
    assert [(i["item_id"], i["reasons"]) for i in queue] == [(differ, ["disagreement"])]
    assert sorted(a["annotator"] or "" for a in queue[0]["annotations"]) == ["", "ann"]


def test_final_label_counts_count_items_not_votes(client: TestClient, db: Database) -> None:
    project = create_project(db, n_items=3, overlap=2)
    tokens = [create_user(db, name=name, role="annotator")[1] for name in ("ann", "bo")]
    with db.reader() as session:
        ids = list(session.scalars(select(Item.id).where(Item.project_id == project.id)))
    votes = {ids[0]: ("sports", "sports"), ids[1]: ("sports", "food"), ids[2]: ("food",)}
    url = f"/api/v1/projects/{project.id}/annotations"
    for item_id, labels in votes.items():
        for token, label in zip(tokens, labels, strict=False):
            body = {"item_id": item_id, "label": label}
            assert client.post(url, json=body, headers=auth(token)).status_code == 201
    with db.reader() as session:
        stored = session.get_one(Project, project.id)
        found = final_label_counts(session, stored, project_options(stored))
    # Five votes on three items: one consensus, one disagreement, one still pending.
    assert found.by_label == {"sports": 1, "food": 0, "weather": 0}
    assert found.awaiting == 2
