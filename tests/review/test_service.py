"""The review queue and adjudication: what goes to review and why, and a reviewer's decision
kept beside the annotations (never over them), audited and counted for retraining."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.audit.service import Actor
from app.db import Database
from app.errors import Invalid, NotFound
from app.models import Adjudication, Annotation, AuditEvent, Item, Project, TrainingRun
from app.review import service
from tests.factories import create_project
from tests.review.conftest import Team, standard_queue


def _queue(db: Database, team: Team, **kwargs: int) -> list[service.Entry]:
    with db.reader() as session:
        return service.review_queue(session, session.get_one(Project, team.project.id), **kwargs)


def _adjudicate(db: Database, team: Team, item_id: int, labels: list[str], note: str = "") -> None:
    with db.writer() as session, session.begin():
        project = session.get_one(Project, team.project.id)
        reviewer = session.merge(team.reviewer)
        service.adjudicate(
            session,
            project,
            reviewer,
            item_id=item_id,
            labels=labels,
            note=note,
            actor=Actor(reviewer, "127.0.0.1"),
        )


def test_queue_holds_disagreements_flags_and_suspicious_labels(db: Database, team: Team) -> None:
    standard_queue(db, team)
    entries = _queue(db, team)
    i = team.items
    assert [(e.item.id, e.reasons) for e in entries] == [
        (i[0], ["disagreement"]),
        (i[2], ["flagged"]),
        (i[3], ["suspicious"]),
    ]
    disputed, flagged, doubted = entries
    assert [(v.annotator, v.labels) for v in disputed.votes] == [
        ("ann1", ["sports"]),
        ("ann2", ["food"]),
    ]
    assert disputed.outcome.status == "disagreement" and disputed.outcome.labels == ()
    assert (flagged.votes[0].flag, flagged.votes[0].comment) == ("unsure", "bread or sport?")
    assert flagged.outcome.status == "pending"  # overlap 2, one label so far
    assert doubted.guess is not None and doubted.guess.labels == ["sports"]
    assert doubted.outcome.labels == ("food",)


def test_queue_pages_by_item_id(db: Database, team: Team) -> None:
    standard_queue(db, team)
    first = _queue(db, team, limit=2)
    rest = _queue(db, team, limit=2, after=first[-1].item.id)
    assert [e.item.id for e in first + rest] == [team.items[0], team.items[2], team.items[3]]
    with pytest.raises(Invalid, match="limit"):
        _queue(db, team, limit=0)


def test_adjudication_settles_the_item_beside_its_annotations(db: Database, team: Team) -> None:
    standard_queue(db, team)
    item = team.items[0]
    with db.reader() as session:
        before = sorted(
            session.scalars(select(Annotation.labels).where(Annotation.item_id == item))
        )
        events = session.get_one(Project, team.project.id).label_events
    _adjudicate(db, team, item, ["food"], note="  bread is food ")
    assert item not in [e.item.id for e in _queue(db, team)]
    with db.reader() as session:
        after = sorted(session.scalars(select(Annotation.labels).where(Annotation.item_id == item)))
        assert after == before  # the annotators' labels are untouched
        adjudication = session.scalar(select(Adjudication).where(Adjudication.item_id == item))
        assert adjudication is not None
        assert (adjudication.labels, adjudication.reason, adjudication.note) == (
            ["food"],
            "disagreement",
            "bread is food",
        )
        assert adjudication.user_id == team.reviewer.id
        assert session.get_one(Project, team.project.id).label_events == events + 1
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "review.adjudicate"))
        assert event is not None and event.actor_name == "rev"
        entry = service.review_entry(session, session.get_one(Project, team.project.id), item)
    assert entry.outcome.status == "adjudicated" and entry.outcome.labels == ("food",)
    assert entry.reviewer == "rev"


def test_a_second_decision_replaces_the_first_and_keeps_its_reason(
    db: Database, team: Team
) -> None:
    standard_queue(db, team)
    _adjudicate(db, team, team.items[0], ["food"])
    _adjudicate(db, team, team.items[0], ["sports"], note="on second thought")
    with db.reader() as session:
        rows = session.scalars(select(Adjudication).where(Adjudication.item_id == team.items[0]))
        assert [(a.labels, a.reason, a.note) for a in rows] == [
            (["sports"], "disagreement", "on second thought")
        ]


def test_an_item_outside_the_queue_is_adjudicated_as_manual(db: Database, team: Team) -> None:
    standard_queue(db, team)
    _adjudicate(db, team, team.items[1], ["sports"])
    with db.reader() as session:
        reason = session.scalar(
            select(Adjudication.reason).where(Adjudication.item_id == team.items[1])
        )
    assert reason == "manual"


def test_refuses_unknown_labels_long_notes_and_other_projects_items(
    db: Database, team: Team
) -> None:
    standard_queue(db, team)
    other = create_project(db, name="other", n_items=1)
    with pytest.raises(Invalid, match="unknown label"):
        _adjudicate(db, team, team.items[0], ["music"])
    with pytest.raises(Invalid, match="note"):
        _adjudicate(db, team, team.items[0], ["food"], note="x" * (service.MAX_NOTE + 1))
    with pytest.raises(NotFound):
        _adjudicate(db, team, _first_item(db, other), ["food"])
    with db.reader() as session:
        assert session.scalar(select(func.count()).select_from(Adjudication)) == 0


def _first_item(db: Database, project: Project) -> int:
    with db.reader() as session:
        found = session.scalar(select(func.min(Item.id)).where(Item.project_id == project.id))
        assert found is not None
        return found


def test_a_decision_counts_towards_the_next_training_run(db: Database, team: Team) -> None:
    standard_queue(db, team)
    with db.writer() as session, session.begin():
        project = session.get_one(Project, team.project.id)
        project.batch_size = project.label_events + 1  # one more label event triggers a run
    with db.reader() as session:
        runs = session.scalar(select(func.count()).select_from(TrainingRun)) or 0
    _adjudicate(db, team, team.items[0], ["food"])
    with db.reader() as session:
        assert session.scalar(select(func.count()).select_from(TrainingRun)) == runs + 1


def _request(db: Database, team: Team, item_ids: list[int]) -> int:
    with db.writer() as session, session.begin():
        project = session.get_one(Project, team.project.id)
        reviewer = session.merge(team.reviewer)
        actor = Actor(reviewer, "127.0.0.1")
        return service.request_review(session, project, reviewer, item_ids, actor=actor)


def test_an_item_sent_by_hand_waits_until_decided_even_after_an_adjudication(
    db: Database, team: Team
) -> None:
    standard_queue(db, team)
    quiet = team.items[1]  # in no queue of its own
    assert quiet not in [e.item.id for e in _queue(db, team)]
    assert _request(db, team, [quiet, quiet]) == 1
    assert _request(db, team, [quiet]) == 0  # already waiting
    (entry,) = [e for e in _queue(db, team) if e.item.id == quiet]
    assert entry.reasons == ["requested"]
    _adjudicate(db, team, quiet, ["sports"])
    assert quiet not in [e.item.id for e in _queue(db, team)]  # decided: the request is answered
    assert _request(db, team, [quiet]) == 1  # sent back for a second decision
    assert quiet in [e.item.id for e in _queue(db, team)]
    with db.reader() as session:
        actions = list(session.scalars(select(AuditEvent.action)))
        assert actions.count("review.request") == 3
