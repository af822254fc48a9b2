"""The machine-label route opens only on measured accuracy, and the oracle's vote reorders the
ranking: a real model trained by the worker, a real knowledge service on a local port."""

from __future__ import annotations

from sqlalchemy import select

from app.annotations.service import submit
from app.config import Settings
from app.db import Database
from app.models import Annotation, Item, Project, RankEntry, Suggestion
from app.oracles import prelabel
from tests.factories import create_project, create_user, queue_and_work
from tests.oracles import knowledge
from tests.oracles.knowledge import TRUTH, _topic_text
from tests.oracles.test_prelabel import add_oracle, allowed, drain  # noqa: F401 - a fixture

__all__ = ["allowed"]


def _options(db: Database, project: Project, **options: object) -> None:
    with db.writer() as session, session.begin():
        row = session.get_one(Project, project.id)
        row.settings = {**row.settings, **options}


def _suggested(db: Database, project: Project) -> list[tuple[int, str, str | None, float | None]]:
    """(item id, text, the model's guess, its probability) of every answered item."""
    with db.reader() as session:
        rows = session.execute(
            select(
                Item.id, Item.text, Suggestion.classifier_label, Suggestion.classifier_confidence
            )
            .join(Suggestion, Suggestion.item_id == Item.id)
            .where(Item.project_id == project.id, Suggestion.labels.is_not(None))
            .order_by(Item.id)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


def _label_truthfully(db: Database, project: Project, item_ids: list[int]) -> None:
    user = create_user(db, name="person", role="annotator")[0]
    with db.writer() as session, session.begin():
        for item_id in item_ids:
            text = session.get_one(Item, item_id).text
            submit(session, project, user, item_id=item_id, labels=[TRUTH[_topic_text(text)]])


def _machine_labels(db: Database, project: Project) -> list[tuple[int, list[str], str]]:
    with db.reader() as session:
        rows = session.execute(
            select(Annotation.item_id, Annotation.labels, Item.text)
            .join(Item, Item.id == Annotation.item_id)
            .where(Annotation.project_id == project.id, Annotation.source == "machine")
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


def _route_setup(db: Database, settings: Settings, mode: str) -> tuple[Project, int]:
    project = create_project(db, n_items=150, n_labeled=15)
    queue_and_work(db, settings, project)
    _options(db, project, machine_labels=True, machine_threshold=0.5, machine_target=0.5)
    with knowledge.serve(mode) as kb:
        oracle_id = add_oracle(db, project, kb.url, budget_calls=80)
        drain(db, settings)
    return project, oracle_id


def test_the_route_labels_only_once_measured_and_then_correctly(
    db: Database, allowed: Settings
) -> None:
    project, oracle_id = _route_setup(db, allowed, "right")
    assert _machine_labels(db, project) == []  # nothing measured yet: the gate is shut
    answered = _suggested(db, project)
    in_route = [i for i, _, guess, sure in answered if guess and (sure or 0) >= 0.5]
    assert len(in_route) >= 45, "the model should agree confidently on most of these topics"
    _label_truthfully(db, project, in_route[:35])
    with knowledge.serve("right") as kb:
        add_oracle(db, project, kb.url, name="second", budget_calls=1)
        prelabel.step(db, allowed)  # any recorded batch applies the route
    machine = _machine_labels(db, project)
    assert machine, "35 right answers in the route should open it"
    assert all(labels == [TRUTH[_topic_text(text)]] for _, labels, text in machine)
    assert {i for i, _, _ in machine}.isdisjoint(in_route[:35])


def test_a_wrong_oracle_never_opens_the_route(db: Database, allowed: Settings) -> None:
    project, _ = _route_setup(db, allowed, "wrong")
    answered = _suggested(db, project)
    _label_truthfully(db, project, [i for i, *_ in answered[:40]])
    with knowledge.serve("wrong") as kb:
        add_oracle(db, project, kb.url, name="second", budget_calls=1)
        prelabel.step(db, allowed)
    assert _machine_labels(db, project) == []


def test_the_oracles_vote_ranks_its_disagreements_first(db: Database, allowed: Settings) -> None:
    project = create_project(db, n_items=120, n_labeled=15)
    queue_and_work(db, allowed, project)
    with knowledge.serve("mixed") as kb:  # wrong about one text in seven
        add_oracle(db, project, kb.url)
        drain(db, allowed)
    disagreeing = {i for i, _, guess, _ in _suggested(db, project) if guess != _said(db, i)}
    assert 5 <= len(disagreeing) <= 30
    assert set(_top(db, project, len(disagreeing))) != disagreeing  # the strategy alone
    _options(db, project, oracle_vote=True)
    queue_and_work(db, allowed, project)
    assert set(_top(db, project, len(disagreeing))) == disagreeing


def _said(db: Database, item_id: int) -> str:
    with db.reader() as session:
        labels = session.scalar(select(Suggestion.labels).where(Suggestion.item_id == item_id))
        return str((labels or [""])[0])


def _top(db: Database, project: Project, n: int) -> list[int]:
    with db.reader() as session:
        version = session.get_one(Project, project.id).current_model_id
        return list(
            session.scalars(
                select(RankEntry.item_id)
                .where(RankEntry.model_version_id == version)
                .order_by(RankEntry.rank)
                .limit(n)
            )
        )
