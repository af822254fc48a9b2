"""Inter-annotator agreement on nominal labels: Cohen's kappa (pairs), Fleiss' kappa and
Krippendorff's alpha, each with the number of items it rests on and a bootstrap 95 % interval.

The point values come from the maintained implementations (scikit-learn, statsmodels,
``krippendorff``). The intervals resample items ``N_RESAMPLES`` times with a generator seeded
by ``SEED`` (so a figure does not move between two reads of the same data), and evaluate each
resample with the same coefficient written in closed form over item weights (a resample is a
multinomial count per item), which is what makes 1,000 resamples per label affordable;
``tests/learning/test_agreement.py`` checks the closed forms against the libraries.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from itertools import combinations

import numpy as np

# krippendorff, scikit-learn and statsmodels are imported where used: importing this module
# (every web process does, at start) loads none of them.

MISSING = -1  # a rater who did not label the unit
N_RESAMPLES = 1000
SEED = 0
CHUNK = 100  # resamples evaluated at once: bounds the (resamples, items) weight matrix


@dataclass(frozen=True)
class Estimate:
    """A coefficient (None when undefined), the items it rests on and its 95 % interval."""

    value: float | None
    n: int
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class PairKappa:
    """Cohen's kappa of two raters (column indices) over the ``n`` units both labelled."""

    rater_a: int
    rater_b: int
    n: int
    kappa: float | None


@dataclass(frozen=True)
class Agreement:
    """The three coefficients of one ratings matrix, and Cohen's kappa of every pair."""

    cohen: Estimate  # mean over the pairs with a defined kappa, weighted by shared units
    fleiss: Estimate
    alpha: Estimate
    pairs: list[PairKappa]


def counts_of(codes: np.ndarray, n_categories: int) -> np.ndarray:
    """Per unit, how many raters chose each category.

    Args:
        codes: shape (n_units, n_raters) category indices, ``MISSING`` where unrated.
        n_categories: number of categories C.

    Returns:
        shape (n_units, C) integer counts.
    """
    out = np.zeros((codes.shape[0], n_categories), dtype=np.int64)
    for c in range(n_categories):
        out[:, c] = (codes == c).sum(axis=1)
    return out


def agreement(
    codes: np.ndarray,
    n_categories: int,
    *,
    clusters: np.ndarray | None = None,
    n_resamples: int = N_RESAMPLES,
    seed: int = SEED,
) -> Agreement:
    """Cohen's, Fleiss' and Krippendorff's coefficients of nominal ratings.

    Units labelled by fewer than two raters are left out first. Fleiss' kappa needs the same
    number of raters on every unit: it uses the units with the most common count (the larger
    count on a tie), and its ``n`` says how many those are.

    Args:
        codes: shape (n_units, n_raters) category indices in [0, C), ``MISSING`` where unrated.
        n_categories: C, at least 2.
        clusters: shape (n_units,) the item each unit belongs to (several units per item when
            a multi-label item is split into one present/absent unit per label); resampling
            draws items, and ``n`` counts items. Default: every unit its own item.
        n_resamples: bootstrap resamples of the items (0: no interval).
        seed: seed of the resampling generator.

    Returns:
        The three estimates and the pairs' kappas.
    """
    codes = np.asarray(codes, dtype=np.int64)
    clusters = np.arange(codes.shape[0]) if clusters is None else np.asarray(clusters)
    rated = (codes != MISSING).sum(axis=1) >= 2
    codes, clusters = codes[rated], clusters[rated]
    _, clusters = np.unique(clusters, return_inverse=True)
    n_items = int(clusters.max()) + 1 if clusters.size else 0
    weights = _resample_weights(clusters, n_items, n_resamples, seed)
    counts = counts_of(codes, n_categories)
    pairs, pair_stats = _pairs(codes, n_categories, weights)
    return Agreement(
        cohen=_cohen_mean(pairs, pair_stats, n_items),
        fleiss=_fleiss(counts, clusters, weights),
        alpha=_alpha(counts, n_items, weights),
        pairs=pairs,
    )


def _resample_weights(
    clusters: np.ndarray, n_items: int, n_resamples: int, seed: int
) -> list[np.ndarray]:
    """Per chunk of resamples, shape (chunk, n_units): how often each unit's item was drawn."""
    if n_items == 0 or n_resamples == 0:
        return []
    rng = np.random.default_rng(seed)
    drawn = rng.multinomial(n_items, np.full(n_items, 1 / n_items), size=n_resamples)
    return [drawn[i : i + CHUNK][:, clusters] for i in range(0, n_resamples, CHUNK)]


def _interval(values: np.ndarray) -> tuple[float | None, float | None]:
    """The 2.5th and 97.5th percentiles of the resamples where the coefficient is defined."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None, None
    low, high = np.percentile(finite, [2.5, 97.5])
    return float(low), float(high)


def _defined(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _estimate(value: float, n: int, resampled: list[np.ndarray]) -> Estimate:
    if n == 0:
        return Estimate(None, 0)
    low, high = _interval(np.concatenate(resampled)) if resampled else (None, None)
    return Estimate(_defined(value), n, low, high)


def _kappa_ratio(observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return (observed - expected) / (1 - expected)


def alpha_weighted(counts: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Krippendorff's nominal alpha with each unit counted ``weight`` times.

    From the coincidence matrix: alpha = 1 - (N - 1) * D / (N^2 - sum_c n_c^2), where a unit
    with m values adds (m^2 - sum_c count_c^2) / (m - 1) to the disagreement D.

    Args:
        counts: shape (n_units, C) values per category, every unit with at least 2 values.
        weights: shape (B, n_units).

    Returns:
        shape (B,) alpha per weighting (NaN where every value is the same).
    """
    m = counts.sum(axis=1).astype(float)
    disagreement = (m**2 - (counts**2).sum(axis=1)) / (m - 1)
    total = weights @ m
    per_category = weights @ counts
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1 - (total - 1) * (weights @ disagreement) / (
            total**2 - (per_category**2).sum(axis=1)
        )


def _alpha(counts: np.ndarray, n_items: int, weights: list[np.ndarray]) -> Estimate:
    if n_items == 0:
        return Estimate(None, 0)
    import krippendorff

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        value = krippendorff.alpha(
            value_counts=counts,
            value_domain=np.arange(counts.shape[1]),
            level_of_measurement="nominal",
        )
    return _estimate(value, n_items, [alpha_weighted(counts, w) for w in weights])


def fleiss_weighted(counts: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Fleiss' kappa with each unit counted ``weight`` times.

    Args:
        counts: shape (n_units, C), every unit with the same number of ratings M >= 2.
        weights: shape (B, n_units).

    Returns:
        shape (B,) kappa per weighting (NaN where every rating is one category).
    """
    m = counts[0].sum()
    per_unit = ((counts**2).sum(axis=1) - m) / (m * (m - 1))
    total = weights.sum(axis=1).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        observed = (weights @ per_unit) / total
        shares = (weights @ counts) / (m * total[:, None])
    return _kappa_ratio(observed, (shares**2).sum(axis=1))


def _fleiss(counts: np.ndarray, clusters: np.ndarray, weights: list[np.ndarray]) -> Estimate:
    if counts.shape[0] == 0:
        return Estimate(None, 0)
    sizes = counts.sum(axis=1)
    values, seen = np.unique(sizes, return_counts=True)
    chosen = sizes == values[np.flatnonzero(seen == seen.max())[-1]]
    table = counts[chosen]
    from statsmodels.stats.inter_rater import fleiss_kappa

    with np.errstate(divide="ignore", invalid="ignore"):
        value = fleiss_kappa(table)
    n = np.unique(clusters[chosen]).size
    return _estimate(value, n, [fleiss_weighted(table, w[:, chosen]) for w in weights])


def cohen_weighted(
    a: np.ndarray, b: np.ndarray, n_categories: int, weights: np.ndarray
) -> np.ndarray:
    """Cohen's kappa of two raters' labels with each unit counted ``weight`` times.

    Args:
        a, b: shape (n,) the two raters' category indices on the units both labelled.
        n_categories: C.
        weights: shape (B, n).

    Returns:
        shape (B,) kappa per weighting (NaN where chance agreement is 1).
    """
    eye = np.eye(n_categories)
    total = weights.sum(axis=1).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        observed = (weights @ (a == b)) / total
        expected = ((weights @ eye[a]) * (weights @ eye[b])).sum(axis=1) / total**2
    return _kappa_ratio(observed, expected)


def _pairs(
    codes: np.ndarray, n_categories: int, weights: list[np.ndarray]
) -> tuple[list[PairKappa], list[list[tuple[np.ndarray, np.ndarray]]]]:
    """Cohen's kappa of every pair of raters with a unit in common, and per chunk of
    resamples its kappas and shared units, each shape (chunk,)."""
    from sklearn.metrics import cohen_kappa_score

    pairs: list[PairKappa] = []
    resampled: list[list[tuple[np.ndarray, np.ndarray]]] = []
    for i, j in combinations(range(codes.shape[1]), 2):
        both = (codes[:, i] != MISSING) & (codes[:, j] != MISSING)
        if not both.any():
            continue
        a, b = codes[both, i], codes[both, j]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            kappa = cohen_kappa_score(a, b, labels=np.arange(n_categories))
        pairs.append(PairKappa(i, j, int(both.sum()), _defined(kappa)))
        resampled.append(
            [
                (cohen_weighted(a, b, n_categories, w[:, both]), w[:, both].sum(axis=1))
                for w in weights
            ]
        )
    return pairs, resampled


def _cohen_mean(
    pairs: list[PairKappa],
    resampled: list[list[tuple[np.ndarray, np.ndarray]]],
    n_items: int,
) -> Estimate:
    """The mean kappa over the pairs where it is defined, each pair weighted by the units it
    shares (a pair with one item in common barely moves it), per resample likewise."""
    defined = [(p.kappa, p.n) for p in pairs if p.kappa is not None]
    if n_items == 0 or not defined:
        return Estimate(None, n_items)
    kappas, shared = np.array(defined).T
    means = [_weighted_mean(chunk) for chunk in zip(*resampled, strict=True)]
    return _estimate(float(np.average(kappas, weights=shared)), n_items, means)


def _weighted_mean(chunk: tuple[tuple[np.ndarray, np.ndarray], ...]) -> np.ndarray:
    """Per resample, the mean of the pairs' defined kappas weighted by their shared units.

    Args:
        chunk: per pair, its kappas and shared units, each shape (resamples,).

    Returns:
        shape (resamples,) the weighted mean (NaN where no pair's kappa is defined).
    """
    kappas = np.vstack([k for k, _ in chunk])
    shared = np.vstack([n for _, n in chunk]).astype(float)
    shared[~np.isfinite(kappas)] = 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        out: np.ndarray = np.nansum(kappas * shared, axis=0) / shared.sum(axis=0)
    return out
