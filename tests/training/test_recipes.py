"""The project recipe in the service: cold-start ranking, MiniLM features, stopping signal."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.annotations.service import submit
from app.config import Settings
from app.db import Database
from app.learning.embeddings import MINILM_DIM
from app.models import Item, ModelVersion, Project, RankEntry, RunStatus, TrainingRun
from app.queue.service import next_items
from app.scheduler.worker import Worker
from app.training import service as training
from app.training.embeddingstore import EmbeddingStore
from tests.factories import (
    TOPICS,
    auth,
    create_project,
    create_user,
    import_jsonl,
    queue_and_work,
    topic_texts,
)


def _label_served(db: Database, project: Project, n: int, name: str = "ann") -> None:
    user, _ = create_user(db, name=name, role="annotator")
    with db.writer() as session, session.begin():
        for k, q in enumerate(next_items(session, project, user, limit=n, lease_seconds=60).items):
            submit(session, project, user, item_id=q.item.id, labels=[project.labels[k % 3]])


def test_cold_start_serves_representatives_before_any_model(
    db: Database, settings: Settings
) -> None:
    project = create_project(db, n_items=60, batch_size=6)
    run = queue_and_work(db, settings, project)
    assert run.status == RunStatus.SUCCEEDED, run.error
    with db.reader() as session:
        cold = session.get_one(ModelVersion, run.model_version_id)
        assert cold.version <= 0 and cold.details["cold_start"] is True
        ranked = session.scalar(select(func.count()).where(RankEntry.model_version_id == cold.id))
        assert ranked == 60
        assert training.published_model(session, session.get_one(Project, project.id)) is None
    annotator, _ = create_user(db, name="first", role="annotator")
    with db.writer() as session, session.begin():
        batch = next_items(session, project, annotator, limit=10, lease_seconds=60)
    assert batch.model_version is None  # the contract: no model yet
    assert [q.rank for q in batch.items] == list(range(10))
    assert all(q.prediction is None for q in batch.items)
    # The head of the queue is the k-means representatives of the pool (10 = batch size, min 10).
    head = {q.item.id for q in batch.items if q.score == 1.0}
    assert len(head) == 10
    topics = {
        topic
        for q in batch.items
        for topic, phrases in TOPICS.items()
        if any(q.item.text.startswith(p) for p in phrases)
    }
    assert topics == set(TOPICS)


def test_cold_start_then_the_first_real_model_is_version_one(
    db: Database, settings: Settings
) -> None:
    project = create_project(db, n_items=60, batch_size=6)
    assert queue_and_work(db, settings, project).status == RunStatus.SUCCEEDED
    _label_served(db, project, 12)
    run = queue_and_work(db, settings, project)
    assert run.status == RunStatus.SUCCEEDED, run.error
    with db.reader() as session:
        version = session.get_one(ModelVersion, run.model_version_id)
        assert version.version == 1 and version.n_labels == 12
        ranked = session.scalar(
            select(func.count()).where(RankEntry.model_version_id == version.id)
        )
        assert ranked == 48


def test_minilm_features_embed_each_item_once(db: Database, settings: Settings) -> None:
    project = create_project(db, n_items=45, n_labeled=15, features="minilm")
    first = queue_and_work(db, settings, project)
    assert first.status == RunStatus.SUCCEEDED, first.error
    assert first.timings["embedded_items"] == 45
    with db.reader() as session:
        version = session.get_one(ModelVersion, first.model_version_id)
        assert version.details["features"] == "minilm" and version.details["embedder"]
        assert version.metrics is not None and version.metrics["accuracy"] > 0.5
    second = queue_and_work(db, settings, project)
    assert second.status == RunStatus.SUCCEEDED and second.timings["embedded_items"] == 0
    with db.writer() as session, session.begin():
        stored = session.get_one(Project, project.id)
        import_jsonl(
            session, stored, [{"id": f"new{i}", "text": f"a brand new text {i}"} for i in range(7)]
        )
    third = queue_and_work(db, settings, project)
    assert third.status == RunStatus.SUCCEEDED and third.timings["embedded_items"] == 7
    store = EmbeddingStore(settings.project_dir(project.id) / "embeddings")
    with db.reader() as session:
        ids = np.array(
            session.scalars(
                select(Item.id).where(Item.project_id == project.id).order_by(Item.id)
            ).all()
        )
    assert np.array_equal(store.cached_ids(), ids)


def test_both_features_rank_and_predict_through_the_api(
    client: TestClient, db: Database, settings: Settings
) -> None:
    _, token = create_user(db)
    created = client.post(
        "/api/v1/projects",
        json={"name": "both", "labels": ["sports", "weather", "food"], "features": "both"},
        headers=auth(token),
    )
    assert created.status_code == 201, created.text
    assert created.json()["features"] == "both" and created.json()["diversity"] is True
    pid = created.json()["id"]
    rows = "\n".join(
        json.dumps({"id": f"r{i}", "text": text, "label": label if i < 15 else None})
        for i, (text, label) in enumerate(topic_texts(45))
    )
    imported = client.post(
        f"/api/v1/projects/{pid}/imports",
        files={"file": ("rows.jsonl", rows.encode(), "application/x-ndjson")},
        headers=auth(token),
    )
    assert imported.status_code == 201, imported.text
    with db.reader() as session:
        runs = session.scalars(select(TrainingRun).where(TrainingRun.project_id == pid)).all()
    assert [r.reason for r in runs] == ["import"]  # new items queue a run
    assert Worker(db, settings).run_once()
    model = client.get(f"/api/v1/projects/{pid}/model", headers=auth(token)).json()
    assert model["version"] == 1 and model["features"] == "both"
    assert model["warm_up"] is True  # 15 labels for 3 classes: below the default 20 per class
    predicted = client.post(
        f"/api/v1/projects/{pid}/predict",
        json={"texts": ["the striker scored a goal", "rain and snow tonight"]},
        headers=auth(token),
    )
    assert predicted.status_code == 200, predicted.text
    labels = [p["label"] for p in predicted.json()["predictions"]]
    assert labels == ["sports", "weather"]


def test_features_are_a_validated_project_option(client: TestClient, db: Database) -> None:
    _, token = create_user(db)
    pid = client.post(
        "/api/v1/projects", json={"name": "p", "labels": ["a", "b"]}, headers=auth(token)
    ).json()["id"]
    assert client.get(f"/api/v1/projects/{pid}", headers=auth(token)).json()["features"] == (
        "minilm"
    )
    bad = client.patch(f"/api/v1/projects/{pid}", json={"features": "bert"}, headers=auth(token))
    assert bad.status_code == 422 and "features" in bad.text
    ok = client.patch(f"/api/v1/projects/{pid}", json={"features": "tfidf"}, headers=auth(token))
    assert ok.status_code == 200 and ok.json()["features"] == "tfidf"


def test_stopping_signal_reports_kappa_and_stabilises(
    client: TestClient, db: Database, settings: Settings
) -> None:
    project = create_project(db, n_items=90, n_labeled=30)
    _, token = create_user(db)
    url = f"/api/v1/projects/{project.id}/model"
    first = queue_and_work(db, settings, project)
    assert first.status == RunStatus.SUCCEEDED, first.error
    stopping = client.get(url, headers=auth(token)).json()["stopping"]
    assert stopping["kappa"] is None and stopping["stabilised"] is False
    _label_served(db, project, 9)
    assert queue_and_work(db, settings, project).status == RunStatus.SUCCEEDED
    stopping = client.get(url, headers=auth(token)).json()["stopping"]
    assert -1.0 <= stopping["kappa"] <= 1.0 and len(stopping["kappa_history"]) == 2
    # Retraining on the same labels gives the same predictions: kappa 1, three times.
    for _ in range(3):
        assert queue_and_work(db, settings, project).status == RunStatus.SUCCEEDED
    stopping = client.get(url, headers=auth(token)).json()["stopping"]
    assert stopping["kappa_history"][-3:] == [1.0, 1.0, 1.0]
    assert stopping["stabilised"] is True and stopping["message"] == "predictions have stabilised"


def test_embedding_store_resumes_after_a_partial_write(tmp_path: Path) -> None:
    store = EmbeddingStore(tmp_path, key="fake", dim=4)
    calls: list[int] = []

    def encode(texts: list[str]) -> np.ndarray:
        calls.append(len(texts))
        vectors = np.array([[len(t), t.count("a"), 1.0, 0.0] for t in texts], dtype=np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    ids = np.arange(10, 30, dtype=np.int64)
    texts = {int(i): "a" * int(i) for i in ids}
    vectors, embedded = store.load(
        ids[:12], lambda sel: [texts[int(i)] for i in sel], encode_fn=encode, chunk_items=5
    )
    assert embedded == 12 and calls == [5, 5, 2] and vectors.shape == (12, 4)
    # A chunk whose ids file never made it to disk (a kill between the two writes) is ignored.
    (store.directory / "chunk-22-3.npy").write_bytes(b"partial")
    (store.directory / ".chunk-22-3-ids.npy.1.tmp").write_bytes(b"partial")
    vectors, embedded = store.load(
        ids, lambda sel: [texts[int(i)] for i in sel], encode_fn=encode, chunk_items=5
    )
    assert embedded == 8 and calls == [5, 5, 2, 5, 3]
    assert np.allclose(vectors, encode([texts[int(i)] for i in ids]), atol=1e-3)  # float16
    assert vectors.shape == (20, 4) and MINILM_DIM == 384
