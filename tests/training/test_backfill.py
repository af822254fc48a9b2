"""A big MiniLM pool trains on static vectors at once, embeds MiniLM behind, then switches."""

from __future__ import annotations

import fcntl

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.config import Settings
from app.db import Database
from app.learning import embeddings
from app.models import ModelVersion, Project, RunStatus, TrainingRun
from app.scheduler.worker import start_thread
from app.training import backfill, encoders
from app.training import service as training
from app.training.embeddingstore import EmbeddingStore
from tests.factories import auth, create_project, create_user, queue_and_work
from tests.runwatch import wait_for


def _big(settings: Settings) -> Settings:
    """Settings under which a 45-item pool counts as big (more than 10 items to embed)."""
    return settings.model_copy(update={"fast_features_above": 10})


def _trained_on_static(db: Database, static_ready: Settings) -> tuple[Settings, Project]:
    """A 45-item MiniLM project, big under ``_big``, after its first run (on static vectors)."""
    settings = _big(static_ready)
    project = create_project(db, n_items=45, n_labeled=15, features="minilm")
    assert queue_and_work(db, settings, project).status == RunStatus.SUCCEEDED
    return settings, project


def _details(db: Database, run: TrainingRun) -> dict:
    with db.reader() as session:
        return dict(session.get_one(ModelVersion, run.model_version_id).details)


def _queued(db: Database, project_id: int) -> list[str]:
    with db.reader() as session:
        return list(
            session.scalars(
                select(TrainingRun.reason).where(
                    TrainingRun.project_id == project_id, TrainingRun.status == RunStatus.QUEUED
                )
            )
        )


def test_big_pool_trains_on_static_vectors_then_switches_to_minilm(
    client: TestClient, db: Database, static_ready: Settings
) -> None:
    settings = _big(static_ready)
    project = create_project(db, n_items=45, n_labeled=15, features="minilm")
    first = queue_and_work(db, settings, project)
    assert first.status == RunStatus.SUCCEEDED, first.error
    details = _details(db, first)
    assert details["features"] == "static" and details["embedder"] == encoders.STATIC_KEY
    minilm = EmbeddingStore(settings.project_dir(project.id) / "embeddings")
    assert minilm.cached_ids().size == 0  # nothing waited for MiniLM
    assert backfill.requested(settings.data_dir) == [project.id]

    # The static model predicts through the API (the web process loads the same encoder).
    _, token = create_user(db, name="reader")
    predicted = client.post(
        f"/api/v1/projects/{project.id}/predict",
        json={"texts": ["The striker scored a goal"]},
        headers=auth(token),
    )
    assert predicted.status_code == 200, predicted.text

    pauses: list[int] = []
    filler = backfill.Backfill(db, settings, pause=lambda: pauses.append(1), batch_texts=8)
    assert filler.step()  # one chunk: all 45 items (a chunk is 2,048)
    assert minilm.cached_ids().size == 45 and len(pauses) == 6  # ceil(45 / 8) encoder calls
    assert _queued(db, project.id) == []
    assert filler.step()  # done: the marker goes, a run is queued
    assert backfill.requested(settings.data_dir) == [] and _queued(db, project.id) == ["embeddings"]
    assert embeddings.shared_encoder.cache_info().currsize == 1
    assert not filler.step()  # nothing left: the encoder's session is let go
    assert embeddings.shared_encoder.cache_info().currsize == 0

    second = queue_and_work(db, settings, project)
    assert second.status == RunStatus.SUCCEEDED, second.error
    assert _details(db, second)["features"] == "minilm"
    assert second.timings["embedded_items"] == 0  # every vector came from the backfill
    static = settings.project_dir(project.id) / "embeddings" / encoders.STATIC_KEY
    assert not static.exists()  # the stand-in vectors are gone (the disk holds MiniLM's only)


def test_a_project_switched_away_from_minilm_is_not_embedded(
    db: Database, static_ready: Settings
) -> None:
    settings, project = _trained_on_static(db, static_ready)
    with db.writer() as session, session.begin():
        stored = session.get_one(Project, project.id)
        stored.settings = {**stored.settings, "features": "tfidf"}
    assert not backfill.Backfill(db, settings).step()
    assert backfill.requested(settings.data_dir) == []
    assert EmbeddingStore(settings.project_dir(project.id) / "embeddings").cached_ids().size == 0


def test_small_pools_and_explicit_kinds_are_left_as_they_are(
    db: Database, static_ready: Settings
) -> None:
    settings = _big(static_ready)
    small = create_project(db, name="small", n_items=9, n_labeled=6, features="minilm")
    run = queue_and_work(db, settings, small)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert _details(db, run)["features"] == "minilm" and run.timings["embedded_items"] == 9
    chosen = create_project(db, name="static", n_items=45, n_labeled=15, features="static")
    run = queue_and_work(db, settings, chosen)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert _details(db, run)["features"] == "static"
    assert backfill.requested(settings.data_dir) == []  # chosen: nothing to switch to


def test_the_worker_embeds_in_the_background_and_publishes_a_minilm_model(
    db: Database, static_ready: Settings
) -> None:
    settings = _big(static_ready).model_copy(update={"oracle_poll_seconds": 0.05})
    project = create_project(db, n_items=45, n_labeled=15, features="minilm")
    with db.writer() as session, session.begin():
        training.queue_run(session, project.id, reason="manual")
    thread, stop = start_thread(db, settings)
    try:
        wait_for(lambda: _published(db, project.id) == "minilm", "a MiniLM model", 120)
    finally:
        stop.set()
        thread.join(timeout=10)
    with db.reader() as session:
        runs = session.scalars(
            select(TrainingRun).where(TrainingRun.project_id == project.id).order_by(TrainingRun.id)
        ).all()
        kinds = [
            session.get_one(ModelVersion, r.model_version_id).details["features"] for r in runs
        ]
    assert [r.reason for r in runs] == ["manual", "embeddings"] and kinds == ["static", "minilm"]


def _published(db: Database, project_id: int) -> str | None:
    with db.reader() as session:
        project = session.get_one(Project, project_id)
        if project.current_model_id is None:
            return None
        return session.get_one(ModelVersion, project.current_model_id).details["features"]


def test_one_worker_at_a_time_embeds_a_project_and_nothing_is_stored_twice(
    db: Database, static_ready: Settings
) -> None:
    settings, project = _trained_on_static(db, static_ready)
    directory = settings.project_dir(project.id) / "embeddings"
    with (directory / f".{backfill.MARKER}.lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # another worker process is embedding it
        assert not backfill.Backfill(db, settings).step()
    store = EmbeddingStore(directory)
    ids = np.arange(1, 4, dtype=np.int64)
    store.add(ids, np.ones((3, store.dim), dtype=np.float32))
    store.add(np.arange(2, 6, dtype=np.int64), np.zeros((4, store.dim), dtype=np.float32))
    assert store.cached_ids().tolist() == [1, 2, 3, 4, 5]
    vectors, embedded = store.load(np.arange(1, 6, dtype=np.int64), lambda ids: [])
    assert embedded == 0 and vectors[:3].all() and not vectors[3:].any()  # the first write kept
