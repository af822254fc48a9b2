"""The data manager's filters and actions, on both databases: each filter over keyset pages,
the model's guesses and score order, an annotator's own view, relabelling and its refusals."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from app.annotations.service import submit
from app.audit.service import CLI
from app.config import Settings
from app.db import Database
from app.errors import NotFound
from app.items import manager
from app.items.filters import ItemFilter
from app.items.listing import ItemRow, list_items
from app.models import Item, Project, User
from tests.factories import add_member, auth, create_project, create_user, queue_and_work


def _rows(db: Database, project_id: int, flt: ItemFilter, limit: int = 7) -> list[ItemRow]:
    """Every row the filter passes, walking the keyset pages ``limit`` rows at a time."""
    rows: list[ItemRow] = []
    after, after_score = 0, None
    with db.reader() as session:
        project = session.get_one(Project, project_id)
        while True:
            page = list_items(
                session, project, after=after, after_score=after_score, limit=limit, flt=flt
            )
            rows += page.rows
            if page.next is None:
                return rows
            after, after_score = page.next, page.next_score


def _ids(rows: list[ItemRow]) -> list[int]:
    return [row.item.id for row in rows]


def _all_ids(db: Database, project_id: int) -> list[int]:
    with db.reader() as session:
        query = select(Item.id).where(Item.project_id == project_id).order_by(Item.id)
        return list(session.scalars(query))


def _label(db: Database, project_id: int, user: str, item_id: int, label: str) -> None:
    with db.writer() as session, session.begin():
        caller = session.scalars(select(User).where(User.name == user)).one()
        project = session.get_one(Project, project_id)
        submit(session, project, caller, item_id=item_id, labels=[label])


def _relabel(db: Database, project_id: int, item_ids: list[int], label: str) -> None:
    with db.writer() as session, session.begin():
        reviewer = session.scalars(select(User).where(User.name == "rita")).one()
        project = session.get_one(Project, project_id)
        manager.relabel(session, project, reviewer, item_ids=item_ids, labels=[label], actor=CLI)


@pytest.fixture
def people(db: Database) -> None:
    for name in ("ada", "bo", "rita"):
        create_user(db, name=name, role="annotator")


def test_search_matches_a_substring_in_any_case(db: Database, people: None) -> None:
    project = create_project(db, n_items=30)
    other = create_project(db, name="other", n_items=30)
    rows = _rows(db, project.id, ItemFilter(q="PASTA was"), limit=2)
    assert rows and all("pasta was" in row.item.text for row in rows)
    assert len(rows) == 2  # "the pasta was delicious" is every 15th of 30 texts
    assert not set(_ids(rows)) & set(_all_ids(db, other.id))
    assert _rows(db, project.id, ItemFilter(q="100%_")) == []  # wildcards are literal


def test_label_filter_reads_the_final_label(db: Database, people: None) -> None:
    project = create_project(db, n_items=12, n_labeled=6)  # imported: sports, weather, food...
    ids = _all_ids(db, project.id)
    _label(db, project.id, "ada", ids[7], "food")
    _relabel(db, project.id, [ids[0]], "food")  # an imported "sports" becomes "food"
    food = _rows(db, project.id, ItemFilter(label="food"), limit=1)
    assert _ids(food) == [ids[0], ids[2], ids[5], ids[7]]
    assert food[0].final_labels == ["food"] and food[0].outcome == "adjudicated"
    sports = _rows(db, project.id, ItemFilter(label="sports"))
    assert _ids(sports) == [ids[3]]  # ids[0]'s annotation still says sports: not final


def test_annotator_and_source_filters(db: Database, people: None) -> None:
    project = create_project(db, n_items=10, n_labeled=3)
    ids = _all_ids(db, project.id)
    _label(db, project.id, "ada", ids[4], "food")
    _label(db, project.id, "bo", ids[5], "sports")
    _label(db, project.id, "ada", ids[0], "weather")  # beside the imported label
    assert _ids(_rows(db, project.id, ItemFilter(annotator="ada"))) == [ids[0], ids[4]]
    assert _ids(_rows(db, project.id, ItemFilter(annotator="nobody"))) == []
    human = _rows(db, project.id, ItemFilter(source="human"), limit=1)
    assert _ids(human) == [ids[0], ids[4], ids[5]]
    assert _ids(_rows(db, project.id, ItemFilter(source="import"))) == ids[:3]


def test_status_filters(db: Database, people: None) -> None:
    project = create_project(db, n_items=10, n_labeled=2, overlap=2)
    ids = _all_ids(db, project.id)
    _label(db, project.id, "ada", ids[3], "food")
    _label(db, project.id, "bo", ids[3], "sports")  # two annotators disagree
    _label(db, project.id, "ada", ids[4], "food")
    _label(db, project.id, "bo", ids[4], "food")  # they agree
    with db.writer() as session, session.begin():
        session.execute(update(Item).where(Item.id.in_([ids[8], ids[9]])).values(audit=True))
    labelled = [ids[0], ids[1], ids[3], ids[4]]
    assert _ids(_rows(db, project.id, ItemFilter(status="labeled"), limit=3)) == labelled
    unlabelled = _rows(db, project.id, ItemFilter(status="unlabeled"), limit=3)
    assert _ids(unlabelled) == [i for i in ids if i not in labelled]
    review = _rows(db, project.id, ItemFilter(status="disagreement"))
    assert _ids(review) == [ids[3]] and review[0].outcome == "disagreement"
    assert _ids(_rows(db, project.id, ItemFilter(status="audit"))) == [ids[8], ids[9]]
    _relabel(db, project.id, [ids[3]], "food")  # adjudicated: no longer waiting
    assert _rows(db, project.id, ItemFilter(status="disagreement")) == []


@pytest.mark.slow
def test_model_filters_and_score_order(db: Database, settings: Settings, people: None) -> None:
    project = create_project(db, n_items=60, n_labeled=30)
    run = queue_and_work(db, settings, project)
    assert run.status == "succeeded", run.error
    by_score = _rows(db, project.id, ItemFilter(sort="score"), limit=4)
    scores = [row.guess.score for row in by_score if row.guess]
    assert len(scores) == len(by_score) == 30  # every unlabelled item is ranked
    assert scores == sorted(scores, reverse=True)
    assert len(set(_ids(by_score))) == 30
    some = by_score[0].guess
    assert some is not None and some.label is not None
    predicted = _rows(db, project.id, ItemFilter(prediction=some.label), limit=3)
    assert predicted and all(r.guess and r.guess.label == some.label for r in predicted)
    assert _ids(predicted) == sorted(_ids(predicted))  # sorted by id unless asked
    confident = ItemFilter(min_confidence=0.5, max_confidence=0.9, sort="score")
    for row in _rows(db, project.id, confident, limit=2):
        assert row.guess and row.guess.confidence is not None
        assert 0.5 <= row.guess.confidence <= 0.9
    combined = _rows(db, project.id, ItemFilter(q="number", sort="score"), limit=5)
    assert _ids(combined) == _ids(by_score)


def test_an_annotator_sees_only_their_own_rows(db: Database, people: None) -> None:
    project = create_project(db, n_items=8, n_labeled=2)
    ids = _all_ids(db, project.id)
    _label(db, project.id, "ada", ids[3], "food")
    _label(db, project.id, "bo", ids[3], "sports")
    _label(db, project.id, "bo", ids[5], "weather")
    with db.reader() as session:
        ada = session.scalars(select(User.id).where(User.name == "ada")).one()
    rows = _rows(db, project.id, ItemFilter(own_user_id=ada))
    assert _ids(rows) == [ids[3]]
    latest = rows[0].latest
    assert latest is not None and latest.labels == ["food"] and latest.annotator == "ada"
    assert rows[0].n_annotations == 1 and rows[0].outcome is None  # nobody else's label
    assert _rows(db, project.id, ItemFilter(own_user_id=ada, label="sports")) == []


def test_relabel_is_all_or_none_within_the_project(db: Database, people: None) -> None:
    project = create_project(db, n_items=4)
    other = create_project(db, name="other", n_items=2)
    ids, theirs = _all_ids(db, project.id), _all_ids(db, other.id)
    with pytest.raises(NotFound):
        _relabel(db, project.id, [ids[0], theirs[0]], "food")
    assert _rows(db, project.id, ItemFilter(status="labeled")) == []
    assert _rows(db, project.id, ItemFilter(label="food")) == []
    _relabel(db, project.id, ids[:2], "food")
    assert _ids(_rows(db, project.id, ItemFilter(label="food"))) == ids[:2]


def test_a_rare_search_pages_on_where_it_stopped(
    db: Database, people: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Out of time after one window of ids, a page ends short; ``next`` finds the rest."""
    from app.items import listing

    monkeypatch.setattr(listing, "ID_WINDOW", 4)
    monkeypatch.setattr(listing, "BUDGET_S", 0.0)
    project = create_project(db, n_items=30)
    rows = _rows(db, project.id, ItemFilter(q="apple pie"), limit=5)
    assert [row.item.text for row in rows] == ["a recipe for apple pie number 5"] + [
        f"a recipe for apple pie number {n}" for n in (20,)
    ]
    with db.reader() as session:
        first = list_items(session, session.get_one(Project, project.id), flt=ItemFilter(q="pie"))
    assert first.rows == [] and first.next == _all_ids(db, project.id)[3]


def test_the_api_filters_and_labels_as_the_screen_does(client: TestClient, db: Database) -> None:
    _, token = create_user(db, name="rita", role="annotator")
    _, annotator = create_user(db, name="ann", role="annotator")
    project = create_project(db, n_items=12, n_labeled=3)
    other = create_project(db, name="other", n_items=2)
    with db.reader() as session:
        rita = session.scalars(select(User.id).where(User.name == "rita")).one()
    add_member(db, project, rita, "reviewer")
    ids, path = _all_ids(db, project.id), f"/api/v1/projects/{project.id}/items"
    body = {"ids": ids[5:7], "labels": ["weather"]}
    assert client.post(f"{path}/label", json=body, headers=auth(annotator)).status_code == 403
    done = client.post(f"{path}/label", json=body, headers=auth(token))
    assert done.status_code == 200 and done.json() == {"labelled": 2}
    theirs = {"ids": [_all_ids(db, other.id)[0]], "labels": ["food"]}
    assert client.post(f"{path}/label", json=theirs, headers=auth(token)).status_code == 404
    page = client.get(path, params={"label": "weather", "q": "NUMBER"}, headers=auth(token))
    found = page.json()["items"]
    assert [(i["id"], i["final_labels"]) for i in found] == [
        (ids[1], ["weather"]),
        (ids[5], ["weather"]),
        (ids[6], ["weather"]),
    ]
    assert client.get(path, headers=auth(annotator)).json()["items"] == []  # labelled nothing
    refused = ({"after_score": "inf"}, {"min_confidence": 2}, {"source": "robot"}, {"q": "a\x00"})
    for params in refused:
        assert client.get(path, params=params, headers=auth(token)).status_code == 422, params


def test_an_annotators_label_history_holds_only_their_labels(db: Database, people: None) -> None:
    from app.annotations.history import item_history

    project = create_project(db, n_items=3)
    item = _all_ids(db, project.id)[0]
    _label(db, project.id, "ada", item, "food")
    _label(db, project.id, "ada", item, "sports")  # replaces food: history keeps it
    _label(db, project.id, "bo", item, "weather")
    with db.reader() as session:
        ada = session.scalars(select(User.id).where(User.name == "ada")).one()
        mine = item_history(session, project.id, item, user_id=ada)
        every = item_history(session, project.id, item)
    assert [(e.annotator, e.labels) for e in mine.current] == [("ada", ["sports"])]
    assert [(e.annotator, e.labels) for e in mine.past] == [("ada", ["food"])]
    assert {e.annotator for e in every.current} == {"ada", "bo"}


def test_the_api_sends_a_selection_to_review_all_or_none(client: TestClient, db: Database) -> None:
    _, token = create_user(db, name="rita", role="annotator")
    _, annotator = create_user(db, name="ann", role="annotator")
    project = create_project(db, n_items=6)
    other = create_project(db, name="other", n_items=2)
    with db.reader() as session:
        rita = session.scalars(select(User.id).where(User.name == "rita")).one()
    add_member(db, project, rita, "reviewer")
    ids, path = _all_ids(db, project.id), f"/api/v1/projects/{project.id}/items/review"
    review = f"/api/v1/projects/{project.id}/review"
    assert client.post(path, json={"ids": ids[:2]}, headers=auth(annotator)).status_code == 403
    mixed = {"ids": [ids[2], _all_ids(db, other.id)[0]]}
    assert client.post(path, json=mixed, headers=auth(token)).status_code == 404
    assert client.get(review, headers=auth(token)).json()["items"] == []  # nothing went
    sent = client.post(path, json={"ids": ids[:2]}, headers=auth(token))
    assert sent.status_code == 200 and sent.json() == {"requested": 2}
    waiting = client.get(review, headers=auth(token)).json()["items"]
    assert [(i["item_id"], i["reasons"]) for i in waiting] == [
        (ids[0], ["requested"]),
        (ids[1], ["requested"]),
    ]
