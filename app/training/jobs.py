"""One training run, end to end: snapshot the labels, fit, evaluate, score the pool, publish.

Thin over the pure ``app.learning`` core: this module moves data between the database, the
feature cache and the model files. Only :func:`_publish` writes to the database, in one
short transaction, so readers see the old ranking or the new one and nothing between.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select, update

from app.config import Settings
from app.db import Database
from app.learning import ranking as pool_ranking
from app.learning import strategies
from app.learning.committee import Committee
from app.learning.estimators import LabelModel, NotEnoughLabelsError
from app.learning.metrics import cross_validated_metrics
from app.models import Annotation, Item, ModelVersion, Project, RankEntry, RunStatus, TrainingRun
from app.models.base import utcnow
from app.training import artifacts, featurestore
from app.training.predictions import to_predictions

DEFAULT_COMMITTEE = 5


@dataclass
class Snapshot:
    project_id: int
    labels: list[str]
    multi_label: bool
    strategy: str
    pool_version: int
    random_seed: int
    label_events: int
    item_ids: np.ndarray  # (n_items,) ascending
    labeled: dict[int, list[str]]  # item id -> labels
    batch_size: int = 20
    options: dict[str, Any] = field(default_factory=dict)  # Project.settings


@dataclass
class Timer:
    timings: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.timings[name] = round(time.perf_counter() - start, 4)


def execute_run(db: Database, settings: Settings, run_id: int) -> None:
    """Run a claimed training run; on error the run is marked failed with the message."""
    timer = Timer()
    with timer("snapshot"):
        snap = _snapshot(db, run_id)
    with timer("features"):
        feats = featurestore.load_or_build(
            settings.project_dir(snap.project_id) / "features",
            snap.pool_version,
            snap.item_ids,
            lambda: _texts(db, snap.project_id),
        )
    labeled_ids = np.fromiter(snap.labeled, dtype=np.int64, count=len(snap.labeled))
    X, y = feats.rows(labeled_ids), _targets(snap, labeled_ids)
    n_labels = len(snap.labels)
    with timer("fit"):
        model = _fit(snap, X, y)
    with timer("score"):
        ranking = _rank(snap, feats, model, X, settings.ranking_depth)
    with timer("save"):
        path = settings.project_dir(snap.project_id) / "models" / f"run-{run_id}.joblib"
        payload = {"model": model, "labels": snap.labels, "multi_label": snap.multi_label}
        sha = artifacts.save(payload, path)
    version = ModelVersion(
        project_id=snap.project_id,
        n_labels=len(labeled_ids),
        metrics=None,
        strategy=snap.strategy,
        path=str(path),
        sha256=sha,
        sklearn_version=artifacts.SKLEARN_VERSION,
        details={
            "featurizer_path": str(feats.featurizer_path),
            "featurizer_sha256": feats.featurizer_sha256,
            "run_id": run_id,
        },
    )
    with timer("publish"):
        _publish(db, run_id, version, ranking)
    # Cross-validation runs after the ranking is live: annotators get the fresh ranking
    # first, the metrics follow on the same version a moment later.
    with timer("cv"):
        metrics = cross_validated_metrics(
            X,
            y,
            lambda: LabelModel(n_labels, multi_label=snap.multi_label),
            n_splits=settings.cv_folds,
        )
    finish(db, run_id, version.id, metrics, timer.timings)


def _snapshot(db: Database, run_id: int) -> Snapshot:
    with db.writer() as session, session.begin():
        run = session.get_one(TrainingRun, run_id)
        project = session.get_one(Project, run.project_id)
        item_ids = np.array(
            session.scalars(
                select(Item.id).where(Item.project_id == project.id).order_by(Item.id)
            ).all(),
            dtype=np.int64,
        )
        labeled: dict[int, list[str]] = {}
        rows = session.execute(
            select(Annotation.item_id, Annotation.labels)
            .where(Annotation.project_id == project.id)
            .order_by(Annotation.updated_at, Annotation.id)
        )
        for item_id, labels in rows:
            labeled[item_id] = labels  # the latest annotation of an item wins
        run.seen_events = project.label_events
        run.n_labels = len(labeled)
        if not labeled:
            raise NotEnoughLabelsError("the project has no labelled items yet")
        return Snapshot(
            project_id=project.id,
            labels=list(project.labels),
            multi_label=project.multi_label,
            strategy=project.strategy,
            pool_version=project.pool_version,
            random_seed=project.random_seed,
            label_events=project.label_events,
            item_ids=item_ids,
            labeled=labeled,
            batch_size=project.batch_size,
            options=dict(project.settings or {}),
        )


def _texts(db: Database, project_id: int) -> list[str]:
    with db.reader() as session:
        return list(
            session.scalars(
                select(Item.text).where(Item.project_id == project_id).order_by(Item.id)
            )
        )


def _targets(snap: Snapshot, labeled_ids: np.ndarray) -> np.ndarray:
    """(n,) label indices, or (n, k) 0/1 indicators for multi-label projects."""
    index = {label: i for i, label in enumerate(snap.labels)}
    if not snap.multi_label:
        return np.array([index[snap.labeled[i][0]] for i in labeled_ids], dtype=np.int64)
    y = np.zeros((len(labeled_ids), len(snap.labels)), dtype=np.int8)
    for row, item_id in enumerate(labeled_ids):
        y[row, [index[label] for label in snap.labeled[item_id]]] = 1
    return y


@dataclass(frozen=True)
class Ranking:
    item_ids: np.ndarray  # (m,) best first
    scores: np.ndarray  # (m,)
    predictions: list[dict[str, Any]]


def _fit(snap: Snapshot, X: Any, y: np.ndarray) -> LabelModel | Committee:
    """One model, or a committee of ``committee_size`` for the committee strategies."""
    n_labels = len(snap.labels)
    if strategies.needs_committee(snap.strategy):
        size = int(snap.options.get("committee_size", DEFAULT_COMMITTEE))
        return Committee(n_labels, n_members=size, multi_label=snap.multi_label).fit(X, y)
    return LabelModel(n_labels, multi_label=snap.multi_label).fit(X, y)


def _rank(
    snap: Snapshot,
    feats: featurestore.PoolFeatures,
    model: LabelModel | Committee,
    X_labeled: Any,
    depth: int,
) -> Ranking:
    """Score the unlabelled pool with the project's strategy and order its top ``depth``.

    Batch diversity (farthest-first over the best candidates, away from labelled items) and
    the exploration share come from the project's options; see ``app.learning.ranking``.
    """
    pool = np.setdiff1d(snap.item_ids, np.fromiter(snap.labeled, dtype=np.int64))
    if len(pool) == 0:
        return Ranking(pool, np.zeros(0), [])
    X_pool = feats.rows(pool)
    rng = np.random.default_rng([snap.random_seed, snap.label_events])
    scores = pool_ranking.score_pool(
        snap.strategy, model, X_pool, multi_label=snap.multi_label, rng=rng
    )
    diverse = bool(snap.options.get("diversity"))
    order = pool_ranking.rank_scores(
        scores,
        depth=depth,
        rng=rng,
        features=X_pool if diverse else None,
        labeled_features=X_labeled if diverse else None,
        diversity=pool_ranking.Diversity(batch=snap.batch_size) if diverse else None,
        epsilon=float(snap.options.get("epsilon", 0.0)),
    )
    proba = model.predict_proba(X_pool[order.indices])
    predictions = to_predictions(proba, snap.labels, multi_label=snap.multi_label)
    return Ranking(pool[order.indices], order.scores, predictions)


def _publish(db: Database, run_id: int, version: ModelVersion, ranking: Ranking) -> None:
    """Make ``version`` and its ranking the published ones, in one transaction."""
    with db.writer() as session, session.begin():
        run = session.get_one(TrainingRun, run_id)
        if run.status != RunStatus.RUNNING:  # declared lost meanwhile: its successor publishes
            raise RuntimeError(f"run {run_id} is {run.status}, not publishing")
        previous = session.scalar(
            select(Project.current_model_id).where(Project.id == version.project_id)
        )
        version.version = 1 + (
            session.scalar(
                select(func.max(ModelVersion.version)).where(
                    ModelVersion.project_id == version.project_id
                )
            )
            or 0
        )
        session.add(version)
        session.flush()
        if len(ranking.item_ids):
            session.execute(RankEntry.__table__.insert(), _rank_rows(version.id, ranking))
        keep = [v for v in (version.id, previous) if v is not None]
        session.execute(
            delete(RankEntry).where(
                RankEntry.model_version_id.in_(
                    select(ModelVersion.id).where(
                        ModelVersion.project_id == version.project_id,
                        ModelVersion.id.not_in(keep),
                    )
                )
            )
        )
        # The switch itself, last, so the project row is locked only for the commit.
        session.execute(
            update(Project)
            .where(Project.id == version.project_id)
            .values(current_model_id=version.id)
        )
        run.model_version_id = version.id


def finish(
    db: Database,
    run_id: int,
    version_id: int,
    metrics: dict[str, float] | None,
    timings: dict[str, float],
) -> None:
    """Store the version's metrics and mark the run succeeded."""
    with db.writer() as session, session.begin():
        session.get_one(ModelVersion, version_id).metrics = metrics
        run = session.get_one(TrainingRun, run_id)
        run.status = RunStatus.SUCCEEDED
        run.finished_at = utcnow()
        run.timings = dict(timings)


def _rank_rows(version_id: int, ranking: Ranking) -> list[dict[str, Any]]:
    return [
        {
            "model_version_id": version_id,
            "rank": rank,
            "item_id": int(item_id),
            "score": float(score),
            "prediction": prediction,
        }
        for rank, (item_id, score, prediction) in enumerate(
            zip(ranking.item_ids, ranking.scores, ranking.predictions, strict=True)
        )
    ]
