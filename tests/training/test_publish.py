"""Publishing a run's result when items were deleted while it ran: the run publishes what is
left, and the deleted items' ranking and label-issue rows are dropped, on SQLite and
PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from app.audit.service import CLI
from app.config import Settings
from app.db import Database
from app.items.removal import delete_items
from app.models import Item, LabelIssue, Project, RankEntry, RunStatus
from app.training import issues, publish
from app.training import runs as lifecycle
from app.training import service as training
from app.training.score import Ranking
from tests.factories import create_project, model_version, queue_and_work
from tests.training.test_issues import project_with_flipped_labels


def _item_ids(db: Database, project_id: int) -> list[int]:
    with db.reader() as session:
        return list(
            session.scalars(select(Item.id).where(Item.project_id == project_id).order_by(Item.id))
        )


def _delete(db: Database, project: Project, ids: list[int]) -> None:
    """Delete items as ``POST /items/delete`` does, in a transaction of its own."""
    with db.writer() as session, session.begin():
        delete_items(session, session.get_one(Project, project.id), ids, actor=CLI)


def _rows(db: Database, version_id: int | None, project_id: int) -> tuple[list[int], set[int]]:
    """The published ranking's item ids in rank order, and the label issues' item ids."""
    with db.reader() as session:
        ranked = session.scalars(
            select(RankEntry.item_id)
            .where(RankEntry.model_version_id == version_id)
            .order_by(RankEntry.rank)
        )
        flagged = session.scalars(
            select(LabelIssue.item_id).where(LabelIssue.project_id == project_id)
        )
        return list(ranked), set(flagged)


def test_publish_drops_the_rank_entries_of_items_deleted_since_scoring(db: Database) -> None:
    project = create_project(db, n_items=40, n_labeled=10)
    pool = _item_ids(db, project.id)[10:]
    with db.writer() as session, session.begin():
        training.queue_run(session, project.id, reason="manual")
        run_id = lifecycle.claim_next(session, "test")
    assert run_id is not None
    ranking = Ranking(
        np.array(pool, dtype=np.int64),
        np.linspace(1, 0, len(pool)),
        [{"label": "food", "probabilities": {}}] * len(pool),
    )
    gone = pool[:3] + pool[-2:]
    _delete(db, project, gone)  # after the ranking was computed, before it is published
    version = model_version(project, n_labels=10)
    publish.publish(db, run_id, version, ranking)
    ranked, _ = _rows(db, version.id, project.id)
    assert ranked == [i for i in pool if i not in gone]
    with db.reader() as session:
        assert session.get_one(Project, project.id).current_model_id == version.id


@pytest.mark.parametrize("step", ["publish", "label_issues"])
def test_a_run_publishes_what_is_left_of_items_deleted_while_it_ran(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    """Labelled and unlabelled items go just before the ranking (or the label issues) is
    written: the run succeeds, and no row of theirs is written."""
    project, flipped = project_with_flipped_labels(db)  # label issues for sure
    ids = _item_ids(db, project.id)
    gone = [*sorted(flipped)[:2], ids[0], ids[60], ids[61]]  # three labelled, two in the pool
    module: Any = publish if step == "publish" else issues
    name = "publish" if step == "publish" else "replace"
    real: Callable[..., Any] = getattr(module, name)

    def deleted_first(*args: Any) -> Any:
        _delete(db, project, gone)
        return real(*args)

    monkeypatch.setattr(module, name, deleted_first)
    run = queue_and_work(db, settings, project)
    assert run.status == RunStatus.SUCCEEDED, run.error
    ranked, flagged = _rows(db, run.model_version_id, project.id)
    assert ranked and flagged & flipped
    assert not set(gone) & (set(ranked) | flagged)
