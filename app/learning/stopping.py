"""When to stop labelling: successive models agree on a fixed sample and the CV metric is flat.

"Stabilising predictions" (Bloodgood & Vijay-Shanker, 2009): Cohen's kappa between the
predictions of consecutive models on a fixed stop set, held above a threshold for N runs.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class StopPoint:
    """One training run: kappa against the previous run's predictions, and its CV metric."""

    kappa: float | None  # None for the first run (nothing to compare with)
    metric: float | None = None  # e.g. cross-validated macro-F1; None when unavailable


def stop_set(n_items: int, size: int, *, seed: int) -> np.ndarray:
    """A fixed random sample of item positions on which successive models are compared.

    Args:
        n_items: items in the project (labelled or not: the sample must not change as items
            get labelled).
        size: wanted sample size; capped at n_items.
        seed: the project's seed, so every run draws the same sample.

    Returns:
        int (intp) sorted positions, shape (min(size, n_items),).
    """
    size = max(min(size, n_items), 0)
    return np.sort(np.random.default_rng(seed).choice(n_items, size, replace=False))


def stable_sample(ids: np.ndarray, size: int, *, seed: int) -> np.ndarray:
    """A fixed sample of item ids that stays mostly the same as the pool grows.

    Each id gets a seeded pseudo-random key (a multiplicative hash); the `size` ids with the
    smallest keys are the sample, so adding items swaps in only those with smaller keys.

    Args:
        ids: (n,) distinct int item ids.
        size: wanted sample size; capped at n.
        seed: the project's seed.

    Returns:
        int64 ids, sorted ascending, shape (min(size, n),).
    """
    ids = np.asarray(ids, dtype=np.int64)
    size = max(min(size, ids.size), 0)
    mixed = (ids.astype(np.uint64) + np.uint64(seed & 0xFFFFFFFF)) * np.uint64(0x9E3779B97F4A7C15)
    keys = mixed ^ (mixed >> np.uint64(29))
    return np.sort(ids[np.argsort(keys, kind="stable")[:size]])


def cohen_kappa(previous: np.ndarray, current: np.ndarray) -> float:
    """Cohen's kappa between two models' predictions on the same items.

    Args:
        previous: (n,) label indices, or (n, k) 0/1 multi-label predictions (every label
            decision counts as one rating).
        current: same shape.

    Returns:
        kappa in [-1, 1]; 1.0 when both predict the same single label everywhere.

    Raises:
        ValueError: shapes differ or there are no items.
    """
    a, b = np.asarray(previous).ravel(), np.asarray(current).ravel()
    if np.shape(previous) != np.shape(current) or a.size == 0:
        raise ValueError("kappa needs two non-empty predictions of the same shape")
    _, codes = np.unique(np.concatenate([a, b]), return_inverse=True)
    a, b = codes[: a.size], codes[a.size :]
    observed = float(np.mean(a == b))
    k = int(codes.max()) + 1
    expected = float(np.dot(np.bincount(a, minlength=k), np.bincount(b, minlength=k))) / a.size**2
    if expected >= 1.0:
        return 1.0 if observed == 1.0 else 0.0
    return (observed - expected) / (1.0 - expected)


def stabilised(
    history: Sequence[StopPoint],
    *,
    threshold: float = 0.99,
    runs: int = 3,
    metric_tolerance: float = 0.01,
) -> bool:
    """Whether predictions have stabilised: the stopping signal shown to annotators.

    True when the last `runs` runs each have kappa >= threshold and, if they carry a metric,
    the metric rose by at most `metric_tolerance` over those runs (a still-climbing learning
    curve means labels still pay off even if predictions barely change).

    Args:
        history: one StopPoint per training run, oldest first.
        threshold: minimal kappa between consecutive models.
        runs: how many consecutive runs must agree (N).
        metric_tolerance: largest gain of the metric over the window still called flat.

    Returns:
        bool.
    """
    if runs < 1:
        raise ValueError(f"runs must be >= 1, got {runs}")
    window = list(history[-runs:])
    if len(window) < runs or any(p.kappa is None or p.kappa < threshold for p in window):
        return False
    metrics = [p.metric for p in history[-runs - 1 :] if p.metric is not None]
    return len(metrics) < 2 or max(metrics[1:]) - metrics[0] <= metric_tolerance
