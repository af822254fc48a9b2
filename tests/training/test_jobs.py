"""Training runs for real: fit, evaluate, rank, publish atomically, coalesce, recover."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import func, select, update

from app.annotations.service import submit
from app.audit.service import CLI
from app.config import Settings
from app.db import Database
from app.learning.strategies import strategy_names
from app.models import Item, ModelVersion, Project, RankEntry, RunStatus, TrainingRun, User
from app.models.base import utcnow
from app.projects.schemas import ProjectUpdate
from app.projects.service import update_project
from app.queue.service import next_items
from app.scheduler.worker import Worker
from app.training import jobs, publish
from app.training import runs as lifecycle
from app.training import service as training
from tests.factories import (
    create_project,
    create_user,
    model_version,
    queue_and_work,
    topic_texts,
)


def test_trains_evaluates_and_publishes_a_ranking(db: Database, settings: Settings) -> None:
    project = create_project(db, n_items=90, n_labeled=30)
    run = queue_and_work(db, settings, project)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert set(run.timings) >= {"fit", "cv", "score", "publish"}
    with db.reader() as session:
        version = session.get_one(ModelVersion, run.model_version_id)
        assert version.version == 1 and version.n_labels == 30
        assert version.metrics is not None and version.metrics["accuracy"] > 0.5
        ranked = session.scalar(
            select(func.count()).where(RankEntry.model_version_id == version.id)
        )
        assert ranked == 60  # every unlabelled item
    annotator, _ = create_user(db, name="ann", role="annotator")
    with db.writer() as session, session.begin():
        batch = next_items(session, project, annotator, limit=10, lease_seconds=60)
    assert batch.model_version == 1
    scores = [q.score for q in batch.items]
    assert all(s is not None for s in scores)
    assert scores == sorted(scores, reverse=True)  # most informative first
    prediction = batch.items[0].prediction
    assert prediction is not None and prediction["label"] in project.labels
    assert abs(sum(prediction["probabilities"].values()) - 1) < 0.01


def test_retrain_reuses_the_cached_pool_features(db: Database, settings: Settings) -> None:
    project = create_project(db, n_items=60, n_labeled=20)
    first = queue_and_work(db, settings, project)
    second = queue_and_work(db, settings, project)
    assert second.status == RunStatus.SUCCEEDED
    cache = settings.project_dir(project.id) / "features"
    assert len(list(cache.glob("pool-*.json"))) == 1 and len(list(cache.glob("*-data.bin"))) == 1
    assert second.timings["features"] < first.timings["features"]


def test_one_class_fails_the_run_with_a_clear_error_and_serves_representatives(
    db: Database, settings: Settings
) -> None:
    project = create_project(db, n_items=30)
    annotator, _ = create_user(db, name="ann", role="annotator")
    with db.writer() as session, session.begin():
        for q in next_items(session, project, annotator, limit=5, lease_seconds=60).items:
            submit(session, project, annotator, item_id=q.item.id, labels=["food"])
    run = queue_and_work(db, settings, project)
    assert run.status == RunStatus.FAILED
    assert "2 distinct" in run.error or "at least 2" in run.error or "two" in run.error
    assert "representative" in run.error
    with db.reader() as session:
        assert training.status(session, project.id) == "idle"
        # Meanwhile the queue serves a cold-start ranking of the unlabelled items.
        current = session.get_one(Project, project.id).current_model_id
        assert session.get_one(ModelVersion, current).version <= 0
        ranked = session.scalar(select(func.count()).where(RankEntry.model_version_id == current))
        assert ranked == 25


def _label(db: Database, project: Project, user: User, n: int) -> None:
    with db.writer() as session, session.begin():
        items = next_items(session, project, user, limit=n, lease_seconds=60).items
        for k, q in enumerate(items):
            submit(session, project, user, item_id=q.item.id, labels=[project.labels[k % 3]])


def test_triggers_coalesce_into_one_follow_up_run(db: Database, settings: Settings) -> None:
    project = create_project(db, n_items=200, batch_size=5)
    annotator, _ = create_user(db, name="ann", role="annotator")
    _label(db, project, annotator, 5)
    with db.writer() as session, session.begin():
        assert lifecycle.claim_next(session, "busy-worker") is not None  # a run is training
    for _ in range(6):
        _label(db, project, annotator, 5)  # six more batches arrive meanwhile
    with db.reader() as session:
        states = session.scalars(
            select(TrainingRun.status).where(TrainingRun.project_id == project.id)
        ).all()
    assert sorted(states) == ["queued", "running"]


def test_stale_running_run_is_failed_and_requeued(db: Database, settings: Settings) -> None:
    project = create_project(db, n_items=40, n_labeled=20)
    with db.writer() as session, session.begin():
        training.queue_run(session, project.id, reason="manual")
        run_id = lifecycle.claim_next(session, "dead-worker")
        session.execute(update(TrainingRun).values(heartbeat_at=utcnow() - timedelta(minutes=10)))
    assert Worker(db, settings).run_once()  # recovers, then trains the replacement
    with db.reader() as session:
        runs = session.scalars(select(TrainingRun).order_by(TrainingRun.id)).all()
    assert runs[0].id == run_id and runs[0].status == "failed"
    assert "stopped responding" in (runs[0].error or "")
    assert runs[1].reason == "recovery" and runs[1].status == "succeeded"


def test_two_workers_never_train_a_project_twice_at_once(db: Database, settings: Settings) -> None:
    project = create_project(db, n_items=120, n_labeled=30, batch_size=1)
    annotator, _ = create_user(db, name="ann", role="annotator")
    stop = threading.Event()
    workers = [
        threading.Thread(target=Worker(db, settings, name=f"w{i}").run_forever, args=(stop,))
        for i in range(2)
    ]
    for w in workers:
        w.start()
    try:
        for _ in range(6):
            _label(db, project, annotator, 2)
            _wait_until(db, project.id, lambda queued, _: queued == 0)  # claimed
        _wait_until(db, project.id, lambda queued, running: queued + running == 0)
    finally:
        stop.set()
        for w in workers:
            w.join()
    with db.reader() as session:
        runs = session.scalars(
            select(TrainingRun)
            .where(TrainingRun.status == "succeeded")
            .order_by(TrainingRun.started_at)
        ).all()
    assert len(runs) >= 6, [(r.status, r.error) for r in session.scalars(select(TrainingRun))]
    for before, after in zip(runs, runs[1:], strict=False):
        assert before.finished_at <= after.started_at  # no overlap


def _wait_until(
    db: Database, project_id: int, condition: Callable[[int, int], bool], timeout: float = 120
) -> None:
    """Poll until ``condition(n_queued, n_running)`` holds for the project's runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.reader() as session:
            states = session.scalars(
                select(TrainingRun.status).where(TrainingRun.project_id == project_id)
            ).all()
            if condition(states.count("queued"), states.count("running")):
                return
        time.sleep(0.02)  # poll interval while waiting on the condition
    pytest.fail("training did not reach the expected state in time")


def test_published_ranking_switches_atomically(db: Database, settings: Settings) -> None:
    """Readers see every item of an answer from one version, never a mix."""
    project = create_project(db, n_items=300, n_labeled=30)
    reader, _ = create_user(db, name="reader", role="annotator")
    pool = np.arange(1, 301, dtype=np.int64)[30:]
    score_of: dict[int, float] = {}
    seen: list[tuple[int | None, list[float | None]]] = []
    done = threading.Event()
    progressed = threading.Condition()

    def read() -> None:
        while not done.is_set():
            with db.writer() as session, session.begin():
                batch = next_items(session, project, reader, limit=20, lease_seconds=3600)
            with progressed:
                seen.append((batch.model_version, [q.score for q in batch.items]))
                progressed.notify_all()

    def wait_for_reader() -> None:
        with progressed:
            n = len(seen)
            assert progressed.wait_for(lambda: len(seen) > n, timeout=30)

    thread = threading.Thread(target=read)
    thread.start()
    try:
        for k in range(15):
            with db.writer() as session, session.begin():
                training.queue_run(session, project.id, reason="manual")
                run_id = lifecycle.claim_next(session, "test")
            ranking = jobs.Ranking(
                pool,
                np.full(len(pool), float(k)),
                [{"label": "food", "probabilities": {}}] * len(pool),
            )
            version = model_version(project, n_labels=30)
            publish.publish(db, run_id, version, ranking)
            lifecycle.finish(db, run_id, version.id, None, {})
            score_of[version.version] = float(k)
            wait_for_reader()
    finally:
        done.set()
        thread.join()
    versions = {v for v, _ in seen if v is not None}
    assert len(versions) >= 2, "the reader should have seen several versions"
    for version, scores in seen:
        if version is not None:
            assert scores and all(s == score_of[version] for s in scores)


@pytest.mark.parametrize("strategy", strategy_names())
def test_every_strategy_trains_and_ranks(db: Database, settings: Settings, strategy: str) -> None:
    project = create_project(db, n_items=80, n_labeled=24, strategy=strategy)
    run = queue_and_work(db, settings, project)
    assert run.status == RunStatus.SUCCEEDED, run.error
    with db.reader() as session:
        scores = session.scalars(
            select(RankEntry.score).where(RankEntry.model_version_id == run.model_version_id)
        ).all()
    assert len(scores) == 56 and all(np.isfinite(scores))


def test_diverse_batches_avoid_near_duplicates(db: Database, settings: Settings) -> None:
    """With diversity on, the first batch holds far fewer copies of one phrase."""
    project = create_project(db, n_items=150, n_labeled=15, batch_size=10)
    plain = queue_and_work(db, settings, project)
    with db.writer() as session, session.begin():
        update_project(
            session, session.get_one(Project, project.id), ProjectUpdate(diversity=True), actor=CLI
        )
    diverse = queue_and_work(db, settings, project)
    assert len(_first_phrases(db, diverse, 10)) > len(_first_phrases(db, plain, 10))


def _first_phrases(db: Database, run: TrainingRun, n: int) -> set[str]:
    """The topic phrases of the first ``n`` items of the run's ranking."""
    with db.reader() as session:
        texts = session.scalars(
            select(Item.text)
            .join(RankEntry, RankEntry.item_id == Item.id)
            .where(RankEntry.model_version_id == run.model_version_id, RankEntry.rank < n)
        ).all()
    return {text.rsplit(" number ", 1)[0] for text in texts}


def test_warm_up_covers_the_pool_until_there_are_enough_labels_per_class(
    db: Database, settings: Settings
) -> None:
    """3 labels for 3 classes: below 2 per class the first batch is typical items of the
    phrases nobody labelled yet; at 1 per class the strategy's own order is back."""
    project = create_project(db, n_items=150, n_labeled=3, batch_size=10, warm_up=2.0)
    labelled_phrases = {text.rsplit(" number ", 1)[0] for text, _ in topic_texts(3)}
    warm = queue_and_work(db, settings, project)
    warm_phrases = _first_phrases(db, warm, 10)
    assert len(warm_phrases) >= 8 and not warm_phrases & labelled_phrases
    assert np.any(np.diff(_ranked_scores(db, warm)[:10]) > 0)  # not in score order
    assert _details(db, warm)["warm_up"] is True
    for per_label in (1.0, 0.0):  # 3 labels are 1 per class: no warm-up; 0: off
        with db.writer() as session, session.begin():
            project_row = session.get_one(Project, project.id)
            update_project(session, project_row, ProjectUpdate(warm_up=per_label), actor=CLI)
        plain = queue_and_work(db, settings, project)
        scores = _ranked_scores(db, plain)
        assert scores.size == 147 and np.all(np.diff(scores) <= 0)  # the strategy's order
        assert len(_first_phrases(db, plain, 10)) < len(warm_phrases)
        assert _details(db, plain)["warm_up"] is False


def _details(db: Database, run: TrainingRun) -> dict[str, object]:
    with db.reader() as session:
        return session.get_one(ModelVersion, run.model_version_id).details


def _ranked_scores(db: Database, run: TrainingRun) -> np.ndarray:
    with db.reader() as session:
        return np.array(
            session.scalars(
                select(RankEntry.score)
                .where(RankEntry.model_version_id == run.model_version_id)
                .order_by(RankEntry.rank)
            ).all()
        )
