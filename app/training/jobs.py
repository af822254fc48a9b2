"""One training run, end to end: snapshot the labels, fit, evaluate, score the pool, publish.

Thin over the pure ``app.learning`` core: this module moves data between the database, the
feature caches and the model files. Only :func:`_publish` writes to the database, in one
short transaction, so readers see the old ranking or the new one and nothing between.

Before a model can be fitted (no labels, or a single class) a run publishes a *cold-start*
ranking instead: the pool's k-means representatives first. It is stored as a model version
with a non-positive ``version`` (``-run_id``), no model file and no predictions; the API
shows it as "no model yet" (``model_version: null``).

Each model predicts a fixed sample of the pool (the stop set); Cohen's kappa against the
previous model on it is the stopping signal (``app.learning.stopping``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select, update

from app import scaling
from app.config import Settings
from app.db import Database
from app.learning import ranking as pool_ranking
from app.learning import strategies
from app.learning.committee import Committee
from app.learning.estimators import LabelModel, NotEnoughLabelsError
from app.learning.metrics import cross_validated_metrics
from app.learning.stopping import cohen_kappa, stable_sample
from app.models import Annotation, Item, ModelVersion, Project, RankEntry, RunStatus, TrainingRun
from app.models.base import utcnow
from app.training import artifacts, featurestore
from app.training.predictions import to_predictions

DEFAULT_COMMITTEE = 5
STOP_SET_SIZE = 1000


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
    previous_model: dict[str, Any] | None = None  # details of the published (real) model

    @property
    def features(self) -> str:
        """The project's feature kind; projects made before the option existed use TF-IDF."""
        return str(self.options.get("features", "tfidf"))


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
        snap.item_ids = _pool_ids(db, settings, snap)
    with timer("features"):
        feats = featurestore.load(
            settings.project_dir(snap.project_id),
            snap.features,
            snap.pool_version,
            snap.item_ids,
            lambda: _texts(db, snap.project_id),
            lambda ids: _texts_of(db, ids),
        )
    labeled_ids = np.fromiter(snap.labeled, dtype=np.int64, count=len(snap.labeled))
    X, y = feats.rows(labeled_ids), _targets(snap, labeled_ids)
    n_labels = len(snap.labels)
    if not len(labeled_ids):
        _publish_cold_start(db, settings, run_id, snap, feats, labeled_ids, timer)
        finish(db, run_id, None, None, _timings(timer, feats))
        return
    with timer("fit"):
        try:
            model = _fit(snap, X, y, _warm_model(snap, feats))
        except NotEnoughLabelsError as exc:
            if snap.previous_model is None:  # keep the queue representative meanwhile
                _publish_cold_start(db, settings, run_id, snap, feats, labeled_ids, timer)
                raise NotEnoughLabelsError(
                    f"{exc}; the queue serves representative items until then"
                ) from exc
            raise  # the published model stays
    warm_up = _warming_up(snap)
    with timer("score"):
        backend = scaling.backend_for(settings.dask_scheduler)
        ranking = _rank(snap, feats, model, X, settings.ranking_depth, warm_up, backend)
    with timer("stop_set"):
        stop_path = settings.project_dir(snap.project_id) / "models" / f"run-{run_id}-stop.npz"
        kappa = _stop_set_kappa(snap, feats, model, stop_path)
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
            "features": feats.kind,
            "embedder": feats.embedder,
            "featurizer_path": str(feats.featurizer_path) if feats.featurizer_path else None,
            "featurizer_sha256": feats.featurizer_sha256,
            "run_id": run_id,
            "stop_path": str(stop_path),
            "kappa": kappa,
            "warm_up": warm_up,
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
    finish(db, run_id, version.id, metrics, _timings(timer, feats))


def _timings(timer: Timer, feats: featurestore.PoolFeatures) -> dict[str, float]:
    return {**timer.timings, "embedded_items": feats.embedded_now}


def _publish_cold_start(
    db: Database,
    settings: Settings,
    run_id: int,
    snap: Snapshot,
    feats: featurestore.PoolFeatures,
    labeled_ids: np.ndarray,
    timer: Timer,
) -> None:
    """Publish the representative items of the unlabelled pool, before any model exists.

    The caller finishes the run. An empty pool publishes nothing.
    """
    pool = np.setdiff1d(snap.item_ids, labeled_ids)
    if len(pool) == 0:
        return
    with timer("score"):
        rng = np.random.default_rng([snap.random_seed, snap.pool_version, len(labeled_ids)])
        order = pool_ranking.rank_pool(
            snap.strategy,
            None,
            depth=settings.ranking_depth,
            rng=rng,
            features=feats.rows(pool),
            n_representatives=min(max(snap.batch_size, 10), 100),
        )
    ranking = Ranking(pool[order.indices], order.scores, [{}] * len(order.indices))
    version = ModelVersion(
        project_id=snap.project_id,
        version=-run_id,
        n_labels=len(labeled_ids),
        metrics=None,
        strategy="cold_start",
        path="",
        sha256="",
        sklearn_version=artifacts.SKLEARN_VERSION,
        details={"cold_start": True, "features": feats.kind, "run_id": run_id},
    )
    with timer("publish"):
        _publish(db, run_id, version, ranking)


def _stop_set_kappa(
    snap: Snapshot, feats: featurestore.PoolFeatures, model: LabelModel | Committee, path: Any
) -> float | None:
    """Predict the stop set, save it to ``path``; kappa against the previous model's file.

    The stop set is a seeded sample of all the project's items (labelled or not) that an
    import changes only in part; models are compared on the items both predicted.
    """
    ids = stable_sample(snap.item_ids, STOP_SET_SIZE, seed=snap.random_seed)
    proba = model.predict_proba(feats.rows(ids))
    predicted = (proba >= 0.5).astype(np.int8) if snap.multi_label else proba.argmax(axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        np.savez(f, ids=ids, predicted=predicted)
    previous = (snap.previous_model or {}).get("stop_path")
    if not previous:
        return None
    try:
        with np.load(previous) as old:
            old_ids, old_predicted = old["ids"], old["predicted"]
    except (OSError, KeyError, ValueError):
        return None
    common, here, there = np.intersect1d(ids, old_ids, return_indices=True)
    if common.size == 0 or old_predicted.shape[1:] != predicted.shape[1:]:
        return None
    return round(cohen_kappa(old_predicted[there], predicted[here]), 6)


def _snapshot(db: Database, run_id: int) -> Snapshot:
    with db.writer() as session, session.begin():
        run = session.get_one(TrainingRun, run_id)
        project = session.get_one(Project, run.project_id)
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
        previous = (
            session.get(ModelVersion, project.current_model_id)
            if project.current_model_id is not None
            else None
        )
        return Snapshot(
            project_id=project.id,
            labels=list(project.labels),
            multi_label=project.multi_label,
            strategy=project.strategy,
            pool_version=project.pool_version,
            random_seed=project.random_seed,
            label_events=project.label_events,
            item_ids=np.zeros(0, dtype=np.int64),  # filled by _pool_ids, outside this lock
            labeled=labeled,
            batch_size=project.batch_size,
            options=dict(project.settings or {}),
            previous_model={
                **(previous.details or {}),
                "path": previous.path,
                "sha256": previous.sha256,
            }
            if previous is not None and previous.version > 0
            else None,
        )


def _pool_ids(db: Database, settings: Settings, snap: Snapshot) -> np.ndarray:
    """Every item id of the project at ``snap.pool_version``, ascending, int64.

    Read once per pool version (an import bumps it) and kept in the project's folder: a
    million ids take seconds through the database and milliseconds from the file. Read after
    the snapshot's transaction, so the write lock is never held for it; an import that
    commits in between only adds ids, which are then ranked one version early.
    """
    path = settings.project_dir(snap.project_id) / "pool" / f"ids-{snap.pool_version}.npy"
    if path.is_file():
        return np.load(path)
    with db.reader() as session:
        ids = _item_ids(session, snap.project_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as f:
        np.save(f, ids)
    os.replace(tmp, path)
    for old in path.parent.glob("ids-*.npy"):
        if old != path:
            old.unlink(missing_ok=True)
    return ids


def _item_ids(session: Any, project_id: int) -> np.ndarray:
    """The project's item ids straight from the driver's cursor (a C loop, not ORM rows).

    ``project_id`` is an int, so formatting it into the statement is safe.
    """
    sql = f"SELECT id FROM items WHERE project_id = {int(project_id)} ORDER BY id"
    cursor = session.connection().connection.driver_connection.cursor()
    try:
        cursor.execute(sql)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    return np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))


def _texts(db: Database, project_id: int) -> list[str]:
    with db.reader() as session:
        return list(
            session.scalars(
                select(Item.text).where(Item.project_id == project_id).order_by(Item.id)
            )
        )


def _texts_of(db: Database, ids: np.ndarray) -> list[str]:
    """Texts of ``ids`` (ascending), in that order."""
    with db.reader() as session:
        found = dict(
            session.execute(select(Item.id, Item.text).where(Item.id.in_(ids.tolist()))).all()
        )
    return [found[int(i)] for i in ids]


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


def _warm_model(snap: Snapshot, feats: featurestore.PoolFeatures) -> LabelModel | None:
    """The published model, to warm-start this fit, if it was fitted on the same features."""
    previous = snap.previous_model
    if (
        previous is None
        or previous.get("features", "tfidf") != feats.kind
        or previous.get("featurizer_sha256") != feats.featurizer_sha256
    ):
        return None
    try:
        model = artifacts.load(Path(previous["path"]), previous["sha256"])["model"]
    except (artifacts.ArtifactError, OSError, KeyError):
        return None  # a missing or altered file: fit from scratch
    return model if isinstance(model, LabelModel) else None


def _fit(
    snap: Snapshot, X: Any, y: np.ndarray, warm_from: LabelModel | None = None
) -> LabelModel | Committee:
    """One model, or a committee of ``committee_size`` for the committee strategies."""
    n_labels = len(snap.labels)
    if strategies.needs_committee(snap.strategy):
        size = int(snap.options.get("committee_size", DEFAULT_COMMITTEE))
        return Committee(n_labels, n_members=size, multi_label=snap.multi_label).fit(X, y)
    return LabelModel(n_labels, multi_label=snap.multi_label).fit(X, y, warm_from=warm_from)


def _rank(
    snap: Snapshot,
    feats: featurestore.PoolFeatures,
    model: LabelModel | Committee,
    X_labeled: Any,
    depth: int,
    warm_up: bool = False,
    backend: scaling.ScoringBackend = scaling.LOCAL,
) -> Ranking:
    """Score the unlabelled pool with the project's strategy and order its top ``depth``.

    Batch diversity (the best item of each k-means cluster of the best candidates, or
    farthest-first away from labelled items), the warm-up (a batch of typical items while the
    project has few labels per class, ``warm_up``) and the exploration share come from the
    project's options; see ``app.learning.ranking``.
    The pool is scored in-process, or on a Dask cluster (``backend``, see ``app.scaling``).
    """
    unlabeled = ~np.isin(feats.item_ids, np.fromiter(snap.labeled, dtype=np.int64))
    positions = np.flatnonzero(unlabeled)  # pool rows of the feature matrix
    pool = feats.item_ids[positions]
    if len(pool) == 0:
        return Ranking(pool, np.zeros(0), [])
    rng = np.random.default_rng([snap.random_seed, snap.label_events])
    # Score every row in place (chunks of the cached matrix, no copy of the pool), then keep
    # the unlabelled ones: labelled rows are a small share of any pool worth ranking.
    scores = backend.score(
        snap.strategy, model, feats.matrix, multi_label=snap.multi_label, rng=rng
    )[positions]
    X_pool = _Rows(feats.matrix, positions)
    diverse = bool(snap.options.get("diversity"))
    method = str(snap.options.get("diversity_method", "cluster"))
    order = pool_ranking.rank_scores(
        scores,
        depth=depth,
        rng=rng,
        features=X_pool if diverse or warm_up else None,
        labeled_features=X_labeled if diverse or warm_up else None,
        diversity=pool_ranking.Diversity(batch=snap.batch_size, method=method) if diverse else None,
        epsilon=float(snap.options.get("epsilon", 0.0)),
        warm_up=snap.batch_size if warm_up else 0,
    )
    proba = model.predict_proba(X_pool[order.indices])
    predictions = to_predictions(proba, snap.labels, multi_label=snap.multi_label)
    return Ranking(pool[order.indices], order.scores, predictions)


def _warming_up(snap: Snapshot) -> bool:
    """Whether this run's ranking leads with a warm-up batch (few labels per class yet)."""
    per_label = float(snap.options.get("warm_up", 0.0))
    return pool_ranking.in_warm_up(snap.strategy, len(snap.labeled), len(snap.labels), per_label)


class _Rows:
    """Rows ``positions`` of ``matrix``, copied only when indexed (``rows[candidates]``)."""

    def __init__(self, matrix: Any, positions: np.ndarray) -> None:
        self.matrix, self.positions = matrix, positions
        self.shape = (positions.size, matrix.shape[1])

    def __getitem__(self, index: Any) -> Any:
        return self.matrix[self.positions[index]]


def _publish(db: Database, run_id: int, version: ModelVersion, ranking: Ranking) -> None:
    """Make ``version`` and its ranking the published ones, in one transaction."""
    with db.writer() as session, session.begin():
        run = session.get_one(TrainingRun, run_id)
        if run.status != RunStatus.RUNNING:  # declared lost meanwhile: its successor publishes
            raise RuntimeError(f"run {run_id} is {run.status}, not publishing")
        previous = session.scalar(
            select(Project.current_model_id).where(Project.id == version.project_id)
        )
        if version.version is None:  # a model; cold-start rankings come numbered (-run_id)
            version.version = 1 + (
                session.scalar(
                    select(func.max(ModelVersion.version)).where(
                        ModelVersion.project_id == version.project_id, ModelVersion.version > 0
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
    version_id: int | None,
    metrics: dict[str, float] | None,
    timings: dict[str, float],
) -> None:
    """Store the version's metrics (if a version was published) and mark the run succeeded."""
    with db.writer() as session, session.begin():
        if version_id is not None:
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
