"""The queue: leases, order, own leases first, never the same item to two callers."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.annotations.service import submit
from app.db import Database, connection
from app.models import Item, Lease, Project, User
from app.models.base import utcnow
from app.queue import service
from app.queue.service import next_items, settle
from tests.factories import create_project, create_user


def _next(db: Database, project: Project, user: User, limit: int, lease: int = 600) -> list[int]:
    with db.writer() as session, session.begin():
        batch = next_items(session, project, user, limit=limit, lease_seconds=lease)
        return [q.item.id for q in batch.items]


def _label(db: Database, project: Project, user: User, ids: list[int]) -> None:
    with db.writer() as session, session.begin():
        for item_id in ids:
            submit(session, project, user, item_id=item_id, labels=["food"])


def test_serves_seeded_random_order_before_any_model(db: Database) -> None:
    project = create_project(db, n_items=30)
    alice, _ = create_user(db, name="alice", role="annotator")
    bob, _ = create_user(db, name="bob", role="annotator")
    first = _next(db, project, alice, 5)
    second = _next(db, project, bob, 5)
    assert len(first) == 5 and len(second) == 5
    assert not set(first) & set(second)
    assert first != sorted(first) or second != sorted(second)  # not insertion order


def test_returns_own_unexpired_leases_first(db: Database) -> None:
    project = create_project(db, n_items=30)
    alice, _ = create_user(db, name="alice", role="annotator")
    first = _next(db, project, alice, 3)
    again = _next(db, project, alice, 3)
    assert again == first
    more = _next(db, project, alice, 5)
    assert more[:3] == first and len(set(more)) == 5


def test_reoffers_expired_leases(db: Database) -> None:
    project = create_project(db, n_items=4)
    alice, _ = create_user(db, name="alice", role="annotator")
    bob, _ = create_user(db, name="bob", role="annotator")
    taken = _next(db, project, alice, 4)
    assert _next(db, project, bob, 4) == []
    with db.writer() as session, session.begin():
        session.execute(update(Lease).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert sorted(_next(db, project, bob, 4)) == sorted(taken)


def test_a_stale_candidate_does_not_wait_on_a_label_in_progress(db: Database) -> None:
    """PostgreSQL: a candidate query's snapshot can predate another caller's lease of one of
    its candidates. Leasing that item must not wait on the lease's row while its holder
    labels the item: the label waits on the item row the candidate query locked, and the two
    callers deadlock (seen once in a full run of the concurrency test below)."""
    if db.is_sqlite:
        pytest.skip("SQLite serialises writers: no two transactions write at once")
    project = create_project(db, n_items=4)
    alice, _ = create_user(db, name="alice", role="annotator")
    bob, _ = create_user(db, name="bob", role="annotator")
    [item_id] = _next(db, project, alice, 1)
    with db.writer() as labelling, labelling.begin():
        settle(labelling, project.id, [item_id], alice.id)  # the first write of a submit
        with db.writer() as session, session.begin():
            conn = connection(session)
            conn.exec_driver_sql("SET LOCAL lock_timeout = '2s'")
            keys = {"project_id": project.id, "user_id": bob.id, "now": utcnow()}
            won = service._acquire(conn, keys, [item_id], utcnow() + timedelta(minutes=10))
        assert won == []
        labelling.rollback()


def test_skips_labelled_items(db: Database) -> None:
    project = create_project(db, n_items=10, n_labeled=7)
    alice, _ = create_user(db, name="alice", role="annotator")
    assert len(_next(db, project, alice, 10)) == 3


def test_concurrent_callers_never_get_the_same_item(db: Database) -> None:
    project = create_project(db, n_items=400)
    users = [create_user(db, name=f"u{i}", role="annotator")[0] for i in range(2)]
    barrier = threading.Barrier(2)
    served: list[list[int]] = [[], []]
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for _ in range(40):
                barrier.wait()
                ids = _next(db, project, users[k], 5, lease=3600)
                served[k] += ids
                _label(db, project, users[k], ids)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(served[0]) == len(set(served[0])) == 200
    assert len(served[1]) == len(set(served[1])) == 200
    assert not set(served[0]) & set(served[1])


def test_marks_the_audit_picks_it_serves(db: Database) -> None:
    project = create_project(db, n_items=40, n_labeled=20, audit_share=0.1)
    alice, _ = create_user(db, name="alice", role="annotator")
    with db.writer() as session, session.begin():
        batch = next_items(session, project, alice, limit=4, lease_seconds=600)
    with db.reader() as session:
        audit = set(session.scalars(select(Item.id).where(Item.audit)))
    assert len(audit) == 2  # 10 % of the 20 labels and these 4 items
    assert {q.item.id for q in batch.items if q.audit} == audit
