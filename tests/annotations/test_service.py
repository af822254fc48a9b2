"""Labels and undo against the countdown to the next retrain (``app.annotations.service``)."""

from __future__ import annotations

from sqlalchemy import func, select

from app.annotations.service import submit, undo_last
from app.db import Database
from app.models import Project, TrainingRun, User
from app.training import summary
from tests.factories import create_project, create_user


def _label(db: Database, project: Project, user: User, item_id: int, label: str) -> None:
    with db.writer() as session, session.begin():
        submit(session, project, user, item_id=item_id, labels=[label])


def _undo(db: Database, project: Project, user: User) -> None:
    with db.writer() as session, session.begin():
        assert undo_last(session, project, user, lease_seconds=60) is not None


def _countdown(db: Database, project: Project) -> tuple[int, int]:
    """(labels until the next retrain, training runs queued so far)."""
    with db.reader() as session:
        runs = select(func.count()).where(TrainingRun.project_id == project.id)
        return summary.labels_until_retrain(session, project), session.scalar(runs) or 0


def test_an_undone_label_is_no_new_label(db: Database) -> None:
    project = create_project(db, n_items=3, batch_size=13)
    ada, _ = create_user(db, name="ada", role="annotator")
    for _ in range(3):
        _label(db, project, ada, 1, "food")
        assert _countdown(db, project) == (12, 0)
        _undo(db, project, ada)
        assert _countdown(db, project) == (13, 0)


def test_an_undo_after_its_run_was_queued_takes_nothing_back(db: Database) -> None:
    project = create_project(db, n_items=5, batch_size=2)
    ada, _ = create_user(db, name="ada", role="annotator")
    _label(db, project, ada, 1, "food")
    _label(db, project, ada, 2, "sports")
    assert _countdown(db, project) == (2, 1)  # a run is queued; the next batch begins
    _undo(db, project, ada)  # that run finds the label gone: the next batch stays whole
    assert _countdown(db, project) == (2, 1)
    _label(db, project, ada, 3, "food")
    assert _countdown(db, project) == (1, 1)


def test_a_changed_label_counts_towards_the_retrain_a_repeated_one_does_not(
    db: Database,
) -> None:
    project = create_project(db, n_items=3, batch_size=10)
    ada, _ = create_user(db, name="ada", role="annotator")
    _label(db, project, ada, 1, "food")
    _label(db, project, ada, 1, "food")  # a retry changes nothing
    assert _countdown(db, project) == (9, 0)
    _label(db, project, ada, 1, "sports")  # the model has something new to learn
    assert _countdown(db, project) == (8, 0)
    _undo(db, project, ada)  # the annotation goes: the change's count comes back
    assert _countdown(db, project) == (9, 0)
