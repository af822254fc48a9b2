"""One training run, end to end: snapshot the labels, fit, score the pool, publish, evaluate.

Thin over the pure ``app.learning`` core; each step is a module of this package: `snapshot`
(labels, options and pool features), `fit`, `score` (the ranking), `stopset` (the stopping
signal), `publish` (the one write of the result) and `runs` (the run's lifecycle).

Before a model can be fitted (no labels, or a single class) a run publishes a *cold-start*
ranking instead: the pool's k-means representatives first, shown by the API as "no model yet".
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app import scaling
from app.config import Settings
from app.db import Database
from app.learning.estimators import NotEnoughLabelsError
from app.training import audit, featurestore, issues, publish, runs, score, snapshot, warmup
from app.training.fit import cross_validation, fit
from app.training.score import Ranking
from app.training.snapshot import Snapshot
from app.training.stopset import stop_set_kappa

__all__ = ["Ranking", "Timer", "execute_run"]


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
        snap = snapshot.take(db, settings, run_id)
    with timer("features"):
        feats = snapshot.features(db, settings, snap)
    if not snap.labeled:
        _publish_cold_start(db, settings, run_id, snap, feats, timer)
        runs.finish(db, run_id, None, None, _timings(timer, feats))
        return
    X, y = feats.rows(snap.labeled_ids()), snap.targets(snap.labeled_ids())
    with timer("fit"):
        model = _fit_or_cold_start(db, settings, run_id, snap, feats, X, y, timer)
    # Labels per class (a multi-label item counts for each of its labels), from the targets.
    counts = y.sum(axis=0) if y.ndim == 2 else np.bincount(y, minlength=len(snap.labels))
    warm_up = snap.options.in_warm_up(len(snap.labeled), len(snap.labels), counts)
    project_dir = settings.project_dir(snap.project_id)
    with timer("warm_up_basis"):  # fitted once per pool version, then read
        basis = warmup.basis(project_dir, snap, feats) if warm_up else None
    with timer("score"):
        backend = scaling.backend_for(settings.dask_scheduler)
        ranking = score.rank(snap, feats, model, X, settings.ranking_depth, warm_up, backend, basis)
    models = project_dir / "models"
    with timer("stop_set"):
        stop_path = models / f"run-{run_id}-stop.npz"
        kappa = stop_set_kappa(snap, feats, model, stop_path)
    with timer("save"):
        details = publish.model_details(
            feats, run_id, stop_path, kappa=kappa, warm_up=warm_up, shape=snap.shape
        )
        version = publish.save_model(snap, feats, model, models / f"run-{run_id}.joblib", details)
    with timer("publish"):
        publish.publish(db, run_id, version, ranking)
    # Cross-validation runs after the ranking is live: annotators get the fresh ranking
    # first, the metrics follow on the same version a moment later.
    with timer("cv"):
        cv = cross_validation(snap, X, y, settings.cv_folds)
        metrics = None if cv is None else cv.metrics
    with timer("label_issues"):  # from the folds' out-of-fold probabilities, no new fits
        issues.replace(db, run_id, snap, snap.labeled_ids(), y, cv)
    with timer("audit"):  # the random audit sample, never trained on: an unbiased estimate
        metrics = audit.with_audit(metrics, audit.measure(snap, feats, model))
    runs.finish(db, run_id, version.id, metrics, _timings(timer, feats))


def _fit_or_cold_start(
    db: Database,
    settings: Settings,
    run_id: int,
    snap: Snapshot,
    feats: featurestore.PoolFeatures,
    X: Any,
    y: Any,
    timer: Timer,
) -> Any:
    """The fitted model; with too few labels for one, the run fails, and a project that has no
    model yet gets a cold-start ranking meanwhile (a published model stays otherwise)."""
    try:
        return fit(snap, X, y, feats)
    except NotEnoughLabelsError as exc:
        if snap.previous_model is not None:
            raise
        _publish_cold_start(db, settings, run_id, snap, feats, timer)
        raise NotEnoughLabelsError(
            f"{exc}; the queue serves representative items until then"
        ) from exc


def _publish_cold_start(
    db: Database,
    settings: Settings,
    run_id: int,
    snap: Snapshot,
    feats: featurestore.PoolFeatures,
    timer: Timer,
) -> None:
    """Publish the representative items of the unlabelled pool (an empty pool: nothing)."""
    with timer("score"):
        ranking = score.cold_start(snap, feats, settings.ranking_depth)
    if len(ranking.item_ids) == 0:
        return
    with timer("publish"):
        publish.publish(db, run_id, publish.cold_start_version(snap, feats, run_id), ranking)


def _timings(timer: Timer, feats: featurestore.PoolFeatures) -> dict[str, float]:
    return {**timer.timings, "embedded_items": feats.embedded_now}
