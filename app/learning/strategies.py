"""Query strategies as pure functions proba (n, k) -> scores (n,), higher = more informative.

Pick one by name from `STRATEGIES` with `score`, then choose items with `select_top_k`.
"""

from typing import Protocol

import numpy as np
from scipy.special import xlogy

_PROBA_TOLERANCE = 1e-6


class EmptyPoolError(ValueError):
    """There is nothing left to score or select."""


class UnknownStrategyError(ValueError):
    """No strategy is registered under the requested name."""


class Strategy(Protocol):
    """A vectorised scoring function: proba (n, k) -> finite float64 scores (n,)."""

    def __call__(
        self, proba: np.ndarray, *, multi_label: bool, rng: np.random.Generator
    ) -> np.ndarray: ...


def random_sampling(
    proba: np.ndarray, *, multi_label: bool, rng: np.random.Generator
) -> np.ndarray:
    """Uniform random scores (the baseline).

    Args:
        proba: shape (n, k); only n is used.
        multi_label: ignored.
        rng: source of randomness.

    Returns:
        float64 array of shape (n,) in [0, 1).
    """
    return rng.random(proba.shape[0])


def least_confidence(
    proba: np.ndarray, *, multi_label: bool, rng: np.random.Generator
) -> np.ndarray:
    """1 - max p (single-label); mean over labels of 1 - max(p, 1 - p) (multi-label).

    Args:
        proba: shape (n, k), class probabilities (rows sum to 1) or per-label probabilities.
        multi_label: whether columns are independent per-label probabilities.
        rng: ignored.

    Returns:
        float64 array of shape (n,).
    """
    if multi_label:
        return np.mean(1.0 - np.maximum(proba, 1.0 - proba), axis=1)
    return 1.0 - proba.max(axis=1)


def margin(proba: np.ndarray, *, multi_label: bool, rng: np.random.Generator) -> np.ndarray:
    """1 - (p_top1 - p_top2) (single-label); mean over labels of 1 - |2p - 1| (multi-label).

    Args:
        proba: shape (n, k); with k == 1 the missing runner-up counts as probability 0.
        multi_label: whether columns are independent per-label probabilities.
        rng: ignored.

    Returns:
        float64 array of shape (n,).
    """
    if multi_label:
        return np.mean(1.0 - np.abs(2.0 * proba - 1.0), axis=1)
    k = proba.shape[1]
    if k == 1:
        return 1.0 - proba[:, 0]
    top_two = np.partition(proba, k - 2, axis=1)[:, -2:]
    return 1.0 - (top_two[:, 1] - top_two[:, 0])


def entropy(proba: np.ndarray, *, multi_label: bool, rng: np.random.Generator) -> np.ndarray:
    """-sum p log p in nats, 0 log 0 = 0 (single-label); mean binary entropy (multi-label).

    Args:
        proba: shape (n, k).
        multi_label: whether columns are independent per-label probabilities.
        rng: ignored.

    Returns:
        float64 array of shape (n,).
    """
    if multi_label:
        return np.mean(-xlogy(proba, proba) - xlogy(1.0 - proba, 1.0 - proba), axis=1)
    return -xlogy(proba, proba).sum(axis=1)


STRATEGIES: dict[str, Strategy] = {
    "random": random_sampling,
    "least_confidence": least_confidence,
    "margin": margin,
    "entropy": entropy,
}


def strategy_names() -> list[str]:
    """Names accepted by `score`, in registry order."""
    return list(STRATEGIES)


def score(
    name: str,
    proba: np.ndarray,
    *,
    multi_label: bool = False,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Score every pool item with the named strategy.

    Args:
        name: a key of `STRATEGIES`.
        proba: shape (n, k), probabilities in [0, 1] of the current model on the pool.
        multi_label: whether columns are independent per-label probabilities.
        rng: randomness for "random"; a fresh unseeded generator if None.

    Returns:
        finite float64 array of shape (n,), higher = more informative.

    Raises:
        UnknownStrategyError: `name` is not registered.
        EmptyPoolError: `proba` has no rows.
        ValueError: `proba` is not 2-D, or has values outside [0, 1] or non-finite.
    """
    strategy = _lookup(name)
    proba = _check_proba(proba)
    generator = rng if rng is not None else np.random.default_rng()
    return np.asarray(strategy(proba, multi_label=multi_label, rng=generator), dtype=np.float64)


def select_top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k highest scores, best first; equal scores go to the lower index first.

    O(n) partition to find the k-th best score, then sorts only the k chosen.

    Args:
        scores: finite array of shape (n,).
        k: how many to select; k > n selects all n, k <= 0 selects none.

    Returns:
        int (intp) array of shape (min(max(k, 0), n),).

    Raises:
        EmptyPoolError: `scores` is empty.
        ValueError: `scores` is not 1-D or not finite.
    """
    scores = _check_scores(scores)
    n = scores.shape[0]
    k = min(k, n)
    if k <= 0:
        return np.empty(0, dtype=np.intp)
    threshold = np.partition(scores, n - k)[n - k]
    above = np.flatnonzero(scores > threshold)
    tied = np.flatnonzero(scores == threshold)[: k - above.size]
    chosen = np.concatenate([above, tied])
    return chosen[np.lexsort((chosen, -scores[chosen]))]


def _lookup(name: str) -> Strategy:
    try:
        return STRATEGIES[name]
    except KeyError:
        known = ", ".join(strategy_names())
        raise UnknownStrategyError(f"unknown strategy {name!r}; known: {known}") from None


def _check_proba(proba: np.ndarray) -> np.ndarray:
    """Validate a (n, k) probability matrix and clip float noise into [0, 1]."""
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2:
        raise ValueError(f"proba must be 2-D (n, k), got shape {proba.shape}")
    if proba.shape[0] == 0:
        raise EmptyPoolError("the pool is empty: there are no unlabelled items to score")
    if proba.shape[1] == 0:
        raise ValueError("proba must have at least one column")
    tol = _PROBA_TOLERANCE
    if not np.all(np.isfinite(proba)) or proba.min() < -tol or proba.max() > 1.0 + tol:
        raise ValueError("proba must hold finite probabilities in [0, 1]")
    return np.clip(proba, 0.0, 1.0)


def _check_scores(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1:
        raise ValueError(f"scores must be 1-D (n,), got shape {scores.shape}")
    if scores.size == 0:
        raise EmptyPoolError("the pool is empty: there are no scores to select from")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores must be finite")
    return scores
