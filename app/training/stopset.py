"""The stopping signal: each model predicts a fixed sample of the pool (the stop set), and
Cohen's kappa against the previous model's predictions says whether labels still change it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from app.learning.stopping import cohen_kappa, stable_sample
from app.training import featurestore
from app.training.snapshot import Snapshot

STOP_SET_SIZE = 1000


def stop_set_kappa(
    snap: Snapshot, feats: featurestore.PoolFeatures, model: Any, path: Path
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
    previous = snap.previous_model.details.stop_path if snap.previous_model else None
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
