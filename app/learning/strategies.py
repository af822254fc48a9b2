"""Query strategies as pure functions proba (n, k) -> scores (n,), higher = more informative.

Pick one by name from `STRATEGIES` with `score`, then choose items with `select_top_k` (or the
whole recipe with `app.learning.ranking.rank_pool`). Committee strategies also take the members'
probabilities (m, n, k); expected gradient length takes the feature row norms (n,).
"""

from typing import Protocol, TypeAlias

import numpy as np

from app.learning import qbc

_PROBA_TOLERANCE = 1e-6


class EmptyPoolError(ValueError):
    """There is nothing left to score or select."""


class UnknownStrategyError(ValueError):
    """No strategy is registered under the requested name."""


class MissingInputError(ValueError):
    """The strategy needs an input that was not given (e.g. committee probabilities)."""


class Strategy(Protocol):
    """A vectorised scoring function: proba (n, k) -> finite float64 scores (n,)."""

    def __call__(
        self, proba: np.ndarray, *, multi_label: bool, rng: np.random.Generator
    ) -> np.ndarray: ...


class NormsStrategy(Protocol):
    """A `Strategy` that also takes the feature row norms (n,), if known (see `uses_norms`)."""

    def __call__(
        self,
        proba: np.ndarray,
        *,
        multi_label: bool,
        rng: np.random.Generator,
        norms: np.ndarray | None = None,
    ) -> np.ndarray: ...


class CommitteeStrategy(Protocol):
    """Scores from the consensus (n, k) and the members' probabilities `committee` (m, n, k),
    which it requires (see `needs_committee`)."""

    def __call__(
        self,
        proba: np.ndarray,
        *,
        multi_label: bool,
        rng: np.random.Generator,
        committee: np.ndarray,
    ) -> np.ndarray: ...


AnyStrategy: TypeAlias = Strategy | NormsStrategy | CommitteeStrategy


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
    n: int = proba.shape[0]
    return rng.random(n)


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
    # The best, then the best of the rest: three passes, faster than a partition per row.
    rows = np.arange(proba.shape[0])
    best = proba.argmax(axis=1)
    top = proba[rows, best]
    rest = proba.copy()
    rest[rows, best] = -np.inf
    return 1.0 - (top - rest.max(axis=1))


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
        return np.mean(qbc.binary_entropy(proba), axis=1)
    return -qbc.plogp(proba).sum(axis=1)


def expected_gradient_length(
    proba: np.ndarray,
    *,
    multi_label: bool,
    rng: np.random.Generator,
    norms: np.ndarray | None = None,
) -> np.ndarray:
    """Expected norm of the log-loss gradient of a linear (logistic) model, in closed form.

    The gradient for label y is (p - e_y) outer x~ with x~ = [x, 1] (the intercept), so
    EGL = ||x~|| * sum_y p_y ||p - e_y||, with ||p - e_y||^2 = ||p||^2 - 2 p_y + 1. Multi-label
    (one logistic model per label): the mean over labels of 2 p (1 - p) ||x~||. A two-class
    single-label LabelModel is one logistic model: its EGL is this value / sqrt(2).

    Args:
        proba: shape (n, k).
        multi_label: whether columns are independent per-label probabilities.
        rng: ignored.
        norms: (n,) ||x~|| per row (see `app.learning.diversity.gradient_norms`); None
            counts every row as norm 1 (ranks by the probability term alone).

    Returns:
        float64 array of shape (n,), >= 0.
    """
    if multi_label:
        change = np.mean(2.0 * proba * (1.0 - proba), axis=1)
    else:
        squared = np.sum(proba * proba, axis=1, keepdims=True)
        distance = np.sqrt(np.maximum(squared - 2.0 * proba + 1.0, 0.0))
        change = np.sum(proba * distance, axis=1)
    if norms is None:
        return change
    norms = np.asarray(norms, dtype=np.float64)
    if norms.shape != change.shape or not np.all(np.isfinite(norms)) or norms.min() < 0:
        raise ValueError(f"norms must be ({change.shape[0]},) finite and >= 0")
    return change * norms


# One registry per signature, so `score` calls each strategy with the inputs it declares.
_PROBA: dict[str, Strategy] = {
    "random": random_sampling,
    "least_confidence": least_confidence,
    "margin": margin,
    "entropy": entropy,
}
_NORMS: dict[str, NormsStrategy] = {"expected_gradient_length": expected_gradient_length}
_COMMITTEE: dict[str, CommitteeStrategy] = {
    "qbc_vote_entropy": qbc.vote_entropy,
    "qbc_kl": qbc.kl_to_consensus,
}
STRATEGIES: dict[str, AnyStrategy] = {**_PROBA, **_NORMS, **_COMMITTEE}


def strategy_names() -> list[str]:
    """Names accepted by `score`, in registry order."""
    return list(STRATEGIES)


def needs_committee(name: str) -> bool:
    """Whether the named strategy scores committee probabilities (m, n, k), see `Committee`."""
    _lookup(name)
    return name in _COMMITTEE


def uses_norms(name: str) -> bool:
    """Whether the named strategy uses feature row norms (n,) when given them."""
    _lookup(name)
    return name in _NORMS


def score(
    name: str,
    proba: np.ndarray,
    *,
    multi_label: bool = False,
    rng: np.random.Generator | None = None,
    committee: np.ndarray | None = None,
    norms: np.ndarray | None = None,
) -> np.ndarray:
    """Score every pool item with the named strategy.

    Args:
        name: a key of `STRATEGIES`.
        proba: shape (n, k), probabilities in [0, 1] of the current model on the pool (for a
            committee: the consensus, i.e. the members' mean).
        multi_label: whether columns are independent per-label probabilities.
        rng: randomness for "random"; a fresh unseeded generator if None.
        committee: shape (m, n, k), each member's probabilities; required by the committee
            strategies (`needs_committee`), ignored by the others.
        norms: shape (n,), feature row norms for `expected_gradient_length`; ignored by others.

    Returns:
        finite float64 array of shape (n,), higher = more informative.

    Raises:
        UnknownStrategyError: `name` is not registered.
        EmptyPoolError: `proba` has no rows.
        MissingInputError: a committee strategy got no `committee`.
        ValueError: `proba` or `committee` is malformed (shape, values outside [0, 1]).
    """
    _lookup(name)
    proba = _check_proba(proba)
    generator = rng if rng is not None else np.random.default_rng()
    if name in _COMMITTEE:
        members = _check_committee(name, committee, proba.shape)
        scores = _COMMITTEE[name](proba, multi_label=multi_label, rng=generator, committee=members)
    elif name in _NORMS:
        scores = _NORMS[name](proba, multi_label=multi_label, rng=generator, norms=norms)
    else:
        scores = _PROBA[name](proba, multi_label=multi_label, rng=generator)
    return np.asarray(scores, dtype=np.float64)


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


def _lookup(name: str) -> AnyStrategy:
    try:
        return STRATEGIES[name]
    except KeyError:
        known = ", ".join(strategy_names())
        raise UnknownStrategyError(f"unknown strategy {name!r}; known: {known}") from None


def _check_proba(proba: np.ndarray) -> np.ndarray:
    """Validate a (n, k) probability matrix and clip float noise into [0, 1]."""
    proba = _as_float(proba)
    if proba.ndim != 2:
        raise ValueError(f"proba must be 2-D (n, k), got shape {proba.shape}")
    if proba.shape[0] == 0:
        raise EmptyPoolError("the pool is empty: there are no unlabelled items to score")
    if proba.shape[1] == 0:
        raise ValueError("proba must have at least one column")
    return _clip_probabilities(proba, "proba")


def _check_committee(name: str, committee: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    """Validate (m, n, k) member probabilities against the consensus shape (n, k)."""
    if committee is None:
        raise MissingInputError(f"strategy {name!r} needs committee probabilities (m, n, k)")
    committee = _as_float(committee)
    if committee.ndim != 3 or committee.shape[1:] != shape or committee.shape[0] < 1:
        raise ValueError(
            f"committee must have shape (m, {shape[0]}, {shape[1]}), got {committee.shape}"
        )
    return _clip_probabilities(committee, "committee")


def _as_float(values: np.ndarray) -> np.ndarray:
    """float32 stays float32 (a float32 pool's probabilities: half the memory traffic);
    anything else becomes float64."""
    values = np.asarray(values)
    return values if values.dtype == np.float32 else values.astype(np.float64, copy=False)


def _clip_probabilities(values: np.ndarray, name: str) -> np.ndarray:
    """Reject non-finite values or values off [0, 1] by more than float noise; clip the noise.

    Two passes (min and max propagate NaN), and a copy only when something needs clipping.
    """
    low, high = values.min(), values.max()
    tol = _PROBA_TOLERANCE
    if not (np.isfinite(low) and np.isfinite(high)) or low < -tol or high > 1.0 + tol:
        raise ValueError(f"{name} must hold finite probabilities in [0, 1]")
    return np.clip(values, 0.0, 1.0) if low < 0.0 or high > 1.0 else values


def _check_scores(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1:
        raise ValueError(f"scores must be 1-D (n,), got shape {scores.shape}")
    if scores.size == 0:
        raise EmptyPoolError("the pool is empty: there are no scores to select from")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores must be finite")
    return scores
