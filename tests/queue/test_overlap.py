"""Overlap, the audit sample and second opinions: who may lease which slot of an item."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select, update

from app.annotations.service import submit, undo_last
from app.db import Database
from app.models import Annotation, Item, LabelIssue, Lease, Project, User
from app.models.base import utcnow
from app.queue.service import SETTLED, next_items
from tests.factories import create_project, create_user


def _next(db: Database, project: Project, user: User, limit: int) -> list[int]:
    with db.writer() as session, session.begin():
        batch = next_items(session, project, user, limit=limit, lease_seconds=600)
        return [q.item.id for q in batch.items]


def _label(db: Database, project: Project, user: User, ids: list[int], label: str = "food") -> None:
    with db.writer() as session, session.begin():
        for item_id in ids:
            submit(session, project, user, item_id=item_id, labels=[label])


def _users(db: Database, n: int) -> list[User]:
    return [create_user(db, name=f"u{k}", role="annotator")[0] for k in range(n)]


def _live(db: Database, project: Project) -> Counter[int]:
    """Live (unsettled) leases per item."""
    with db.reader() as session:
        rows = session.scalars(
            select(Lease.item_id).where(
                Lease.project_id == project.id,
                Lease.expires_at > utcnow(),
                Lease.expires_at < SETTLED,
            )
        )
        return Counter(rows)


def test_an_item_is_leased_to_k_different_people_and_no_more(db: Database) -> None:
    project = create_project(db, n_items=2, overlap=3)
    a, b, c, d = _users(db, 4)
    assert sorted(_next(db, project, a, 2)) == sorted(_next(db, project, b, 2))
    assert sorted(_next(db, project, c, 2)) == sorted(_next(db, project, a, 2))
    assert _next(db, project, d, 2) == []  # three live leases each: no room
    assert set(_live(db, project).values()) == {3}


def test_the_same_annotator_never_gets_a_second_slot(db: Database) -> None:
    project = create_project(db, n_items=3, overlap=2)
    a, b = _users(db, 2)
    first = _next(db, project, a, 3)
    _label(db, project, a, first)
    assert _next(db, project, a, 3) == []  # each item waits for someone else
    assert sorted(_next(db, project, b, 3)) == sorted(first)


def test_items_with_labels_are_finished_before_new_ones_are_opened(db: Database) -> None:
    project = create_project(db, n_items=20, overlap=2)
    a, b = _users(db, 2)
    started = _next(db, project, a, 3)
    _label(db, project, a, started)
    assert sorted(_next(db, project, b, 3)) == sorted(started)


def test_an_expired_slot_is_offered_again_and_labels_keep_theirs(db: Database) -> None:
    project = create_project(db, n_items=1, overlap=2)
    a, b, c = _users(db, 3)
    (item,) = _next(db, project, a, 1)
    _label(db, project, a, [item])
    assert _next(db, project, b, 1) == [item]
    with db.writer() as session, session.begin():
        session.execute(
            update(Lease)
            .where(Lease.expires_at < SETTLED)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert _next(db, project, c, 1) == [item]  # b's slot, not a's label
    _label(db, project, c, [item])
    assert _next(db, project, b, 1) == []
    with db.reader() as session:
        assert session.scalar(select(func.count()).where(Annotation.item_id == item)) == 2


def test_undo_gives_back_the_annotators_own_slot(db: Database) -> None:
    project = create_project(db, n_items=1, overlap=2)
    a, b, c = _users(db, 3)
    (item,) = _next(db, project, a, 1)
    _next(db, project, b, 1)
    _label(db, project, a, [item])
    _label(db, project, b, [item])
    with db.writer() as session, session.begin():
        undo_last(session, project, b, lease_seconds=600)
    assert _next(db, project, c, 1) == []  # a's label and b's lease fill both slots
    assert _next(db, project, b, 1) == [item]
    with db.reader() as session:
        holders = session.execute(select(Lease.slot, Lease.user_id).where(Lease.item_id == item))
        assert sorted(holders) == [(0, a.id), (1, b.id)]


def test_with_overlap_one_an_item_is_never_leased_twice(db: Database) -> None:
    project = create_project(db, n_items=6)
    a, b = _users(db, 2)
    first, second = _next(db, project, a, 4), _next(db, project, b, 4)
    assert len(first) == 4 and len(second) == 2 and not set(first) & set(second)
    _label(db, project, a, first)
    assert _next(db, project, b, 4) == second  # others' labels open nothing more


def test_the_audit_share_is_served_from_the_random_order_and_marked(db: Database) -> None:
    project = create_project(db, n_items=200, audit_share=0.1)
    (a,) = _users(db, 1)
    served = []
    for _ in range(10):
        batch = _next(db, project, a, 10)
        _label(db, project, a, batch)
        served += batch
    with db.reader() as session:
        audit = set(session.scalars(select(Item.id).where(Item.audit)))
    assert len(served) == 100
    assert len(audit) == 10 and audit <= set(served)  # 10 % of the labels, all served


def test_no_audit_share_marks_nothing(db: Database) -> None:
    project = create_project(db, n_items=50)
    (a,) = _users(db, 1)
    _label(db, project, a, _next(db, project, a, 20))
    with db.reader() as session:
        assert session.scalar(select(func.count()).where(Item.audit)) == 0


def test_suspicious_labels_get_a_second_opinion_from_someone_else(db: Database) -> None:
    project = create_project(db, n_items=30, recheck_share=0.5)
    a, b = _users(db, 2)
    labelled = _next(db, project, a, 4)
    _label(db, project, a, labelled)
    _flag_suspicious(db, project, labelled[:2])
    rechecks: list[int] = []
    for _ in range(6):  # half of each request at random: both turn up within a few
        batch = _next(db, project, b, 2)
        rechecks += [i for i in batch if i in labelled]
        _label(db, project, b, batch, label="sports")
    assert sorted(set(rechecks)) == sorted(labelled[:2])
    assert len(rechecks) == 2  # once each: one more opinion, not one per request
    assert _next(db, project, a, 30) and not set(_next(db, project, a, 30)) & set(labelled)


def _flag_suspicious(db: Database, project: Project, item_ids: list[int]) -> None:
    with db.writer() as session, session.begin():
        for rank, item_id in enumerate(item_ids):
            session.add(
                LabelIssue(
                    project_id=project.id,
                    item_id=item_id,
                    run_id=1,
                    rank=rank,
                    score=0.9,
                    suggested=["sports"],
                )
            )
