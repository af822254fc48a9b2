"""The warm-up's SVD basis: fitted on the first warm-up run of a pool version, then read."""

from __future__ import annotations

import numpy as np
from sqlalchemy import update

from app.config import Settings
from app.db import Database
from app.learning.options import QueryOptions
from app.models import ModelVersion, Project, RunStatus
from app.training import featurestore, warmup
from app.training.snapshot import Snapshot
from tests.factories import TOPICS, create_project, import_jsonl, queue_and_work, topic_texts


def test_the_basis_is_fitted_once_per_pool_version(db: Database, settings: Settings) -> None:
    project = create_project(db, n_items=150, n_labeled=3, batch_size=10, warm_up=5.0)
    folder = settings.project_dir(project.id) / warmup.DIRECTORY
    first = queue_and_work(db, settings, project)
    assert first.status == RunStatus.SUCCEEDED, first.error
    (stored,) = folder.glob("svd-*.npy")
    written = stored.stat().st_ino
    second = queue_and_work(db, settings, project)
    assert second.status == RunStatus.SUCCEEDED, second.error
    assert [p.stat().st_ino for p in folder.glob("svd-*.npy")] == [written]  # read, not refitted
    with db.writer() as session, session.begin():  # an import's new pool version: a new basis
        session.execute(
            update(Project)
            .where(Project.id == project.id)
            .values(pool_version=Project.pool_version + 1)
        )
    third = queue_and_work(db, settings, project)
    assert third.status == RunStatus.SUCCEEDED, third.error
    (replaced,) = folder.glob("svd-*.npy")
    assert replaced.name != stored.name and not stored.exists()


def test_dense_features_have_no_basis(settings: Settings) -> None:
    feats = featurestore.PoolFeatures(
        np.arange(300), np.ones((300, 384), dtype=np.float32), None, None, kind="minilm"
    )
    snap = Snapshot(
        project_id=1,
        labels=["a", "b"],
        multi_label=False,
        options=QueryOptions(),
        pool_version=1,
        random_seed=0,
        label_events=0,
        item_ids=np.arange(300),
        labeled={},
    )
    assert warmup.basis(settings.project_dir(1), snap, feats) is None


def test_the_warm_up_ends_once_the_labels_look_imbalanced(db: Database, settings: Settings) -> None:
    """20 labels a class would mean 60 warm-up labels; 24 labels mostly of one class end it."""
    balanced = create_project(db, name="balanced", n_items=90, n_labeled=24, warm_up=20.0)
    skewed = create_project(db, name="skewed", warm_up=20.0)
    wanted = dict.fromkeys(TOPICS, 2) | {next(iter(TOPICS)): 20}  # 20 + 2 + 2 labels
    rows = []
    for i, (text, label) in enumerate(topic_texts(90)):
        keep = wanted[label] > 0
        wanted[label] -= keep
        rows.append({"id": f"t{i}", "text": text, "label": label if keep else None})
    with db.writer() as session, session.begin():
        import_jsonl(session, session.get_one(Project, skewed.id), rows)
    for project, expected in ((balanced, True), (skewed, False)):
        run = queue_and_work(db, settings, project)
        assert run.status == RunStatus.SUCCEEDED, run.error
        with db.reader() as session:
            details = session.get_one(ModelVersion, run.model_version_id).details
        assert details.get("warm_up") is expected, (project.name, details)
