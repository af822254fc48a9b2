"""Fit a run's model: one label model (warm-started from the published one) or a committee."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from app.learning import strategies
from app.learning.committee import Committee
from app.learning.estimators import LabelModel
from app.learning.metrics import CrossValidation, cross_validate
from app.training import artifacts, featurestore
from app.training.snapshot import Snapshot


def fit(snap: Snapshot, X: Any, y: np.ndarray, feats: featurestore.PoolFeatures) -> Any:
    """One model, or a committee of ``committee_size`` for the committee strategies.

    Raises:
        NotEnoughLabelsError: the labels do not cover two classes yet.
    """
    n_labels = len(snap.labels)
    if strategies.needs_committee(snap.strategy):
        size = snap.options.committee_size
        return Committee(n_labels, n_members=size, multi_label=snap.multi_label).fit(X, y)
    warm_from = _warm_model(snap, feats)
    return LabelModel(n_labels, multi_label=snap.multi_label).fit(X, y, warm_from=warm_from)


def cross_validation(snap: Snapshot, X: Any, y: np.ndarray, folds: int) -> CrossValidation | None:
    """Cross-validated metrics and out-of-fold probabilities of a fresh label model on the
    run's labels, from one pass of folds (None: too few)."""
    return cross_validate(
        X, y, lambda: LabelModel(len(snap.labels), multi_label=snap.multi_label), n_splits=folds
    )


def _warm_model(snap: Snapshot, feats: featurestore.PoolFeatures) -> LabelModel | None:
    """The published model, to warm-start this fit, if it was fitted on the same features."""
    previous = snap.previous_model
    if (
        previous is None
        or previous.details.features != feats.kind
        or previous.details.featurizer_sha256 != feats.featurizer_sha256
    ):
        return None
    try:
        model = artifacts.load(Path(previous.path), previous.sha256)["model"]
    except (artifacts.ArtifactError, OSError, KeyError):
        return None  # a missing or altered file: fit from scratch
    return model if isinstance(model, LabelModel) else None
