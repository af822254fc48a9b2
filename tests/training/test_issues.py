"""Suspicious labels after a real training run: ranked rows in ``label_issues``, replaced by the
next run, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select, update

from app.config import Settings
from app.db import Database
from app.models import Item, LabelIssue, Project, RunStatus
from app.training.issues import suspicious_labels
from tests.factories import TOPICS, create_project, import_jsonl, queue_and_work, topic_texts

N_LABELED, FLIPPED = 60, (4, 17, 29, 42, 55)


def project_with_flipped_labels(db: Database) -> tuple[Project, set[int]]:
    """A topics project with N_LABELED imported labels, those of rows FLIPPED wrong; returns
    it and the ids of the flipped items."""
    project = create_project(db)
    labels = list(TOPICS)
    rows = []
    for i, (text, label) in enumerate(topic_texts(90)):
        if i in FLIPPED:
            label = labels[(labels.index(label) + 1) % 3]
        rows.append({"id": f"t{i}", "text": text, "label": label if i < N_LABELED else None})
    with db.writer() as session, session.begin():
        import_jsonl(session, session.get_one(Project, project.id), rows)
        ids = session.scalars(
            select(Item.id).where(
                Item.project_id == project.id, Item.external_id.in_([f"t{i}" for i in FLIPPED])
            )
        )
        return project, set(ids)


def _issues(db: Database, project_id: int) -> list[LabelIssue]:
    with db.reader() as session:
        return list(
            session.scalars(
                select(LabelIssue)
                .where(LabelIssue.project_id == project_id)
                .order_by(LabelIssue.rank)
            )
        )


def test_a_run_ranks_the_flipped_labels_first(db: Database, settings: Settings) -> None:
    project, flipped = project_with_flipped_labels(db)
    run = queue_and_work(db, settings, project)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert "label_issues" in run.timings
    issues = _issues(db, project.id)
    assert [issue.rank for issue in issues] == list(range(len(issues)))
    top = {issue.item_id for issue in issues[: len(flipped)]}
    assert len(top & flipped) >= len(flipped) - 1, (top, flipped)  # 3 folds of 60 labels
    assert len(issues) <= 2 * len(flipped)
    assert all(issue.run_id == run.id for issue in issues)
    assert [issue.score for issue in issues] == sorted(issue.score for issue in issues)
    assert all(issue.suggested and issue.suggested[0] in TOPICS for issue in issues)


def test_the_next_run_replaces_the_rows(db: Database, settings: Settings) -> None:
    project, flipped = project_with_flipped_labels(db)
    first = queue_and_work(db, settings, project)
    with db.writer() as session, session.begin():  # a row only a stale ranking would have
        flagged = select(LabelIssue.item_id).where(LabelIssue.project_id == project.id)
        clean = session.scalar(
            select(Item.id).where(Item.project_id == project.id, Item.id.not_in(flagged))
        )
        session.execute(
            update(LabelIssue)
            .where(LabelIssue.project_id == project.id)
            .values(rank=LabelIssue.rank + 1)
        )
        session.add(
            LabelIssue(
                project_id=project.id,
                item_id=clean,
                run_id=first.id,
                rank=0,
                score=0.0,
                suggested=[],
            )
        )
    second = queue_and_work(db, settings, project)
    issues = _issues(db, project.id)
    assert issues and all(issue.run_id == second.id for issue in issues)
    assert clean not in {issue.item_id for issue in issues}
    assert [issue.rank for issue in issues] == list(range(len(issues)))


def test_the_listing_shows_text_given_and_suggested_labels(
    db: Database, settings: Settings
) -> None:
    project, flipped = project_with_flipped_labels(db)
    run = queue_and_work(db, settings, project)
    with db.reader() as session:
        listed = suspicious_labels(session, session.get_one(Project, project.id), limit=3)
        texts = dict(session.execute(select(Item.id, Item.text).where(Item.id.in_(flipped))).all())
    assert len(listed) == 3 and [row.rank for row in listed] == [0, 1, 2]
    for row in listed:
        assert row.item_id in flipped and row.text == texts[row.item_id]
        assert row.run_id == run.id and len(row.labels) == 1
        assert row.suggested != row.labels  # the model disagrees with the flipped label


def test_a_multi_label_run_ranks_wrong_labels_first(db: Database, settings: Settings) -> None:
    project = create_project(db, multi_label=True)
    labels = list(TOPICS)
    rows = [
        {
            "id": f"t{i}",
            "text": text,
            "label": [labels[(labels.index(label) + 1) % 3] if i in FLIPPED else label],
        }
        for i, (text, label) in enumerate(topic_texts(N_LABELED))
    ]
    with db.writer() as session, session.begin():
        import_jsonl(session, session.get_one(Project, project.id), rows)
    run = queue_and_work(db, settings, project)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.n_labels == N_LABELED
    issues = _issues(db, project.id)
    assert [issue.rank for issue in issues] == list(range(len(issues)))
    with db.reader() as session:
        top = session.scalars(
            select(Item.external_id).where(Item.id.in_([i.item_id for i in issues[:3]]))
        ).all()
    assert {f"t{i}" for i in FLIPPED} >= set(top) and top
