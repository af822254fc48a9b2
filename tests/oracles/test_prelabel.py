"""Background pre-labelling against a real knowledge service on a local port (``knowledge``):
budgets, back-off, timeouts and nonsense answers, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.config import Settings
from app.db import Database
from app.models import Annotation, Oracle, Project, Suggestion
from app.models.base import utcnow
from app.oracles import prelabel
from tests.factories import create_oracle, create_project
from tests.oracles import knowledge
from tests.oracles.knowledge import TRUTH


@pytest.fixture
def allowed(settings: Settings) -> Settings:
    """The settings with the local knowledge service's address allowed."""
    return settings.model_copy(update={"oracle_hosts": ["127.0.0.1"]})


def add_oracle(db: Database, project: Project, url: str, **fields: object) -> int:
    """An ``http`` oracle asking ``url`` four texts a request."""
    config = {"url": url, "batch_size": 4, "timeout_seconds": fields.pop("timeout", 10.0)}
    name = str(fields.pop("name", "kb"))
    return create_oracle(db, project.id, name=name, kind="http", config=config, **fields)


def drain(db: Database, settings: Settings, limit: int = 50) -> int:
    """Steps until the worker has nothing left to ask; returns how many asked."""
    for steps in range(limit):
        if not prelabel.step(db, settings):
            return steps
    raise AssertionError("pre-labelling never ran out of work")


def suggestions(db: Database, oracle_id: int) -> list[Suggestion]:
    with db.reader() as session:
        rows = session.scalars(
            select(Suggestion).where(Suggestion.oracle_id == oracle_id).order_by(Suggestion.id)
        )
        return list(rows)


def oracle_row(db: Database, oracle_id: int) -> Oracle:
    with db.reader() as session:
        return session.get_one(Oracle, oracle_id)


def test_every_unlabelled_item_gets_a_suggestion_kept_apart_from_labels(
    db: Database, allowed: Settings
) -> None:
    project = create_project(db, n_items=30, n_labeled=6)
    with knowledge.serve("right") as kb:
        oracle_id = add_oracle(db, project, kb.url)
        assert drain(db, allowed) >= 1
    found = suggestions(db, oracle_id)
    assert len(found) == 24 and len(kb.asked) == 24  # the labelled six were never asked
    assert all(
        s.labels == [TRUTH[knowledge._topic_text(s_text)]] for s, s_text in _texts(db, found)
    )
    assert all(s.error is None and s.confidence == 0.9 for s in found)
    with db.reader() as session:
        labels = session.scalar(select(func.count()).select_from(Annotation))
    assert labels == 6  # suggestions are not labels


def _texts(db: Database, found: list[Suggestion]) -> list[tuple[Suggestion, str]]:
    from app.models import Item

    with db.reader() as session:
        return [(s, session.get_one(Item, s.item_id).text) for s in found]


def test_a_budget_of_calls_is_never_exceeded(db: Database, allowed: Settings) -> None:
    project = create_project(db, n_items=40)
    with knowledge.serve("right") as kb:
        oracle_id = add_oracle(db, project, kb.url, budget_calls=5, concurrency=2)
        drain(db, allowed)
        assert not prelabel.step(db, allowed)  # spent: nothing more is asked
    assert len(kb.asked) == 5
    assert len(suggestions(db, oracle_id)) == 5
    assert oracle_row(db, oracle_id).calls_used == 5


def test_nonsense_answers_back_the_oracle_off_and_are_not_asked_again(
    db: Database, allowed: Settings
) -> None:
    project = create_project(db, n_items=12)
    with knowledge.serve("nonsense") as kb:
        oracle_id = add_oracle(db, project, kb.url)
        assert prelabel.step(db, allowed)
        asked = len(kb.asked)
        assert not prelabel.step(db, allowed)  # backed off
        assert len(kb.asked) == asked
        row = oracle_row(db, oracle_id)
        assert row.failures == 1 and row.backoff_until is not None
        assert row.backoff_until > utcnow() + timedelta(seconds=3)
        assert "astrology" in (row.last_error or "")
        for _ in range(10):  # each batch of nonsense backs it off again
            _end_backoff(db, oracle_id)
            if not prelabel.step(db, allowed):
                break
    found = suggestions(db, oracle_id)
    assert {s.error_kind for s in found} == {"label"} and all(s.labels is None for s in found)
    assert len(kb.asked) == len({s.item_id for s in found}) == 12  # each asked once only


def _end_backoff(db: Database, oracle_id: int) -> None:
    """What the passing of the back-off time does."""
    with db.writer() as session, session.begin():
        session.get_one(Oracle, oracle_id).backoff_until = utcnow() - timedelta(seconds=1)


def test_a_failing_service_is_backed_off_then_asked_again(db: Database, allowed: Settings) -> None:
    project = create_project(db, n_items=8)
    with knowledge.serve("error") as kb:
        oracle_id = add_oracle(db, project, kb.url)
        assert prelabel.step(db, allowed)
        failed = suggestions(db, oracle_id)
        assert failed and {s.error_kind for s in failed} == {"http"}
        assert "knowledge base is down" in (failed[0].error or "")
        first = oracle_row(db, oracle_id)
        assert first.calls_used == len(kb.asked) == len(failed)  # sent: they count
        kb.mode = "right"
        _end_backoff(db, oracle_id)
        drain(db, allowed)
    answered = [s for s in suggestions(db, oracle_id) if s.labels is not None]
    assert len(answered) == 8  # the items that failed were asked again
    assert first.failures == 1 and oracle_row(db, oracle_id).failures == 0


def test_a_stopped_service_is_recorded_and_backed_off(db: Database, allowed: Settings) -> None:
    project = create_project(db, n_items=8)
    with knowledge.serve("right") as kb:
        oracle_id = add_oracle(db, project, kb.url)
    assert prelabel.step(db, allowed)  # the service is gone
    found = suggestions(db, oracle_id)
    assert {s.error_kind for s in found} == {"unreachable"}
    assert oracle_row(db, oracle_id).backoff_until is not None
    assert oracle_row(db, oracle_id).calls_used == 0  # no connection: nothing was sent


def test_a_slow_service_times_out(db: Database, allowed: Settings) -> None:
    project = create_project(db, n_items=4)
    with knowledge.serve("slow") as kb:
        kb.delay = 2.0
        oracle_id = add_oracle(db, project, kb.url, timeout=0.3)
        assert prelabel.step(db, allowed)
    found = suggestions(db, oracle_id)
    assert {s.error_kind for s in found} == {"timeout"}
    assert all(s.latency_seconds < 2.0 for s in found)
    assert oracle_row(db, oracle_id).calls_used == len(found)  # sent, unanswered: they count


def test_an_internal_host_is_refused_unless_listed(db: Database, settings: Settings) -> None:
    project = create_project(db, n_items=4)
    with knowledge.serve("right") as kb:
        oracle_id = add_oracle(db, project, kb.url)
        assert prelabel.step(db, settings)  # 127.0.0.1 is not in LABELLOOP_ORACLE_HOSTS
    assert kb.asked == []
    found = suggestions(db, oracle_id)
    assert {s.error_kind for s in found} == {"config"}
    assert "LABELLOOP_ORACLE_HOSTS" in (found[0].error or "")


def test_calls_refused_before_they_are_sent_cost_no_budget(
    db: Database, settings: Settings
) -> None:
    project = create_project(db, n_items=8)
    with knowledge.serve("right") as kb:
        oracle_id = add_oracle(db, project, kb.url, budget_calls=20)
        assert prelabel.step(db, settings)  # 127.0.0.1 is not in LABELLOOP_ORACLE_HOSTS
        assert not prelabel.step(db, settings)  # backed off: not asked again at once
        _end_backoff(db, oracle_id)
        assert prelabel.step(db, settings)
    assert kb.asked == []
    assert {s.error_kind for s in suggestions(db, oracle_id)} == {"config"}
    row = oracle_row(db, oracle_id)
    assert row.calls_used == 0
    assert row.failures == 2 and row.backoff_until is not None
    assert row.backoff_until > utcnow() + timedelta(seconds=8)  # 10 s the second time
    assert (row.last_error or "").startswith("config: ")
    assert "LABELLOOP_ORACLE_HOSTS" in (row.last_error or "")


def test_an_unset_key_costs_no_budget(
    db: Database, allowed: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LABELLOOP_TEST_KB_KEY", raising=False)
    project = create_project(db, n_items=4)
    with knowledge.serve("right") as kb:
        config = {"url": kb.url, "api_key_env": "LABELLOOP_TEST_KB_KEY"}
        oracle_id = create_oracle(db, project.id, name="kb", kind="http", config=config)
        assert prelabel.step(db, allowed)
    assert kb.asked == []
    row = oracle_row(db, oracle_id)
    assert row.calls_used == 0 and row.failures == 1
    assert "LABELLOOP_TEST_KB_KEY" in (row.last_error or "")


def test_a_stored_configuration_that_no_longer_parses_backs_the_oracle_off(
    db: Database, allowed: Settings
) -> None:
    project = create_project(db, n_items=4)
    config = {"url": "http://ada:s3cret@127.0.0.1:9/label"}  # refused since it was stored
    oracle_id = create_oracle(db, project.id, name="old", kind="http", config=config)
    assert not prelabel.step(db, allowed)
    row = oracle_row(db, oracle_id)
    assert row.failures == 1 and row.backoff_until is not None and row.calls_used == 0
    assert (row.last_error or "").startswith("config: ") and "url" in (row.last_error or "")
    assert "s3cret" not in (row.last_error or "")
    assert not prelabel.step(db, allowed)  # not tried again on every poll
    assert oracle_row(db, oracle_id).failures == 1


def test_the_items_about_to_be_served_are_asked_first(db: Database, allowed: Settings) -> None:
    from tests.factories import queue_and_work

    project = create_project(db, n_items=60, n_labeled=12)
    queue_and_work(db, allowed, project)
    with db.reader() as session:
        from app.models import RankEntry

        version = session.get_one(Project, project.id).current_model_id
        first = session.scalars(
            select(RankEntry.item_id)
            .where(RankEntry.model_version_id == version)
            .order_by(RankEntry.rank)
            .limit(4)
        ).all()
    with knowledge.serve("right") as kb:
        oracle_id = add_oracle(db, project, kb.url, budget_calls=4, concurrency=1)
        drain(db, allowed)
    found = suggestions(db, oracle_id)
    assert [s.item_id for s in found] == list(first)
    assert all(s.classifier_label is not None and s.classifier_confidence for s in found)
