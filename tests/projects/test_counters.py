"""Project counters and items' labelled flags kept by triggers: always equal to counting the
rows, whoever writes them."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import NamedTuple

from sqlalchemy import delete, distinct, func, select

from app.annotations.service import label_counts, submit, submit_many, undo_last
from app.db import Database
from app.migrate import downgrade, upgrade
from app.models import Annotation, Item, Project, User
from app.projects.service import counts
from tests.factories import create_project, create_user, import_jsonl


class Counts(NamedTuple):
    """A project's items, labelled items, label tallies, and the ids of its labelled items."""

    n_items: int
    n_labeled: int
    tally: dict[str, int]
    labeled: set[int]


def _recount(db: Database, project_id: int) -> Counts:
    """What the counters and flags should say, counted the slow way from the annotations."""
    with db.reader() as session:
        ids = select(Annotation.item_id).where(Annotation.project_id == project_id)
        labeled = set(session.scalars(ids))
    return Counts(*_recount_counts(db, project_id), labeled)


def _kept(db: Database, project_id: int) -> Counts:
    """What the counters and the items' flags say."""
    with db.reader() as session:
        ids = select(Item.id).where(Item.project_id == project_id, Item.labeled)
        labeled = set(session.scalars(ids))
    return Counts(*_kept_counts(db, project_id), labeled)


def _recount_counts(db: Database, project_id: int) -> tuple[int, int, dict[str, int]]:
    """What the counters should say, counted the slow way."""
    with db.reader() as session:
        n_items = session.scalar(select(func.count()).where(Item.project_id == project_id))
        n_labeled = session.scalar(
            select(func.count(distinct(Annotation.item_id))).where(
                Annotation.project_id == project_id
            )
        )
        tally: Counter[str] = Counter()
        for labels in session.scalars(
            select(Annotation.labels).where(Annotation.project_id == project_id)
        ):
            tally.update(labels)
    return n_items or 0, n_labeled or 0, dict(tally)


def _kept_counts(db: Database, project_id: int) -> tuple[int, int, dict[str, int]]:
    """What the counters say."""
    with db.reader() as session:
        project = session.get_one(Project, project_id)
        c = counts(session, project)
        tally = {k: v for k, v in label_counts(session, project).items() if v}
    return c.n_items, c.n_labeled, tally


def _submit(db: Database, project_id: int, user_id: int, item_id: int, labels: list[str]) -> None:
    with db.writer() as session, session.begin():
        project = session.get_one(Project, project_id)
        submit(session, project, session.get_one(User, user_id), item_id=item_id, labels=labels)


def _item_ids(db: Database, project_id: int) -> list[int]:
    with db.reader() as session:
        return list(
            session.scalars(select(Item.id).where(Item.project_id == project_id).order_by(Item.id))
        )


def test_counters_follow_imports_labels_replacements_and_undo(db: Database) -> None:
    project = create_project(db, n_items=30, n_labeled=7)
    other = create_project(db, name="other", n_items=5, n_labeled=5)
    assert _kept(db, project.id) == _recount(db, project.id)
    assert _kept(db, project.id)[:2] == (30, 7)
    ada, _ = create_user(db, name="ada", role="annotator")
    bo, _ = create_user(db, name="bo", role="annotator")
    ids = _item_ids(db, project.id)
    _submit(db, project.id, ada.id, ids[10], ["food"])
    _submit(db, project.id, bo.id, ids[10], ["sports"])  # a second annotation: still one item
    _submit(db, project.id, ada.id, ids[11], ["weather"])
    _submit(db, project.id, ada.id, ids[11], ["food"])  # replaced
    _submit(db, project.id, bo.id, ids[0], ["food"])  # a seed-labelled item
    assert _kept(db, project.id) == _recount(db, project.id)
    assert _kept(db, project.id)[:2] == (30, 9)
    with db.writer() as session, session.begin():
        project_row = session.get_one(Project, project.id)
        for user_id in (ada.id, ada.id, bo.id):
            undo_last(session, project_row, session.get_one(User, user_id), lease_seconds=60)
    assert _kept(db, project.id) == _recount(db, project.id)
    assert _kept(db, project.id)[:2] == (30, 8)  # bo's label of ids[10] remains
    with db.writer() as session, session.begin():
        project_row = session.get_one(Project, project.id)
        import_jsonl(
            session, project_row, [{"text": "brand new", "label": "food"}, {"text": "unlabelled"}]
        )
        assert counts(session, project_row).n_items == 32  # this transaction's own writes
    assert _kept(db, project.id) == _recount(db, project.id)
    assert _kept(db, other.id) == _recount(db, other.id)
    assert _kept(db, other.id)[:2] == (5, 5)


def test_counters_follow_deleted_items_and_projects(db: Database) -> None:
    project = create_project(db, n_items=20, n_labeled=8)
    ids = _item_ids(db, project.id)
    with db.writer() as session, session.begin():
        session.execute(delete(Item).where(Item.id.in_(ids[:3] + ids[15:])))
    assert _kept(db, project.id) == _recount(db, project.id)
    assert _kept(db, project.id)[:2] == (12, 5)
    with db.writer() as session, session.begin():
        session.execute(delete(Project).where(Project.id == project.id))
    with db.reader() as session:
        assert session.get(Project, project.id) is None


def _at_once(*calls: Callable[[], None]) -> list[BaseException]:
    """Run ``calls`` on threads that start together (a barrier); the errors they raised."""
    barrier = threading.Barrier(len(calls))
    errors: list[BaseException] = []

    def run(call: Callable[[], None]) -> None:
        try:
            barrier.wait()
            call()
        except BaseException as exc:  # noqa: BLE001 - returned to the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_concurrent_labels_of_one_item_count_it_once(db: Database) -> None:
    """Two annotators label the same items at the same moment: each item counts once."""
    project = create_project(db, n_items=24)
    users = [create_user(db, name=f"u{i}", role="annotator")[0] for i in range(2)]
    for item_id in _item_ids(db, project.id):
        errors = _at_once(
            *(partial(_submit, db, project.id, u.id, item_id, ["food"]) for u in users)
        )
        assert not errors
    assert _kept(db, project.id) == _recount(db, project.id)
    assert _kept(db, project.id)[:3] == (24, 24, {"food": 48})


def test_concurrent_bulk_labels_overlapping_and_replacing_count_each_item_once(
    db: Database,
) -> None:
    """Bulk submits are one multi-row insert each: two annotators send overlapping batches at
    once (some of their own earlier labels among them, replaced or repeated)."""
    project = create_project(db, n_items=40)
    ada, bo = (create_user(db, name=name, role="annotator")[0] for name in ("ada", "bo"))
    ids = _item_ids(db, project.id)
    _submit(db, project.id, ada.id, ids[0], ["food"])  # replaced by ada's batch below
    _submit(db, project.id, bo.id, ids[25], ["weather"])  # repeated as is by bo's batch

    def label(user_id: int, entries: list[tuple[int, list[str]]]) -> None:
        with db.writer() as session, session.begin():
            project_row = session.get_one(Project, project.id)
            submit_many(session, project_row, session.get_one(User, user_id), entries)

    errors = _at_once(
        partial(label, ada.id, [(i, ["sports"]) for i in ids[0:25]]),
        partial(label, bo.id, [(i, ["weather"]) for i in ids[15:40]]),
    )
    assert not errors
    assert _kept(db, project.id) == _recount(db, project.id)
    assert _kept(db, project.id)[:3] == (40, 40, {"sports": 25, "weather": 25})


def test_migration_backfills_the_counters(db_url: str, db: Database) -> None:
    project = create_project(db, n_items=15, n_labeled=6)
    db.dispose()
    downgrade(db_url, "0004")
    upgrade(db_url)
    assert _kept(db, project.id) == _recount(db, project.id)
    assert _kept(db, project.id)[:2] == (15, 6)
