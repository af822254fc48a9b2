"""Query strategies: one contract test over the registry, exact values, and select_top_k."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from app.learning.strategies import (
    STRATEGIES,
    EmptyPoolError,
    UnknownStrategyError,
    score,
    select_top_k,
    strategy_names,
)

UNCERTAINTY = [name for name in strategy_names() if name != "random"]
BOTH_MODES = [pytest.param(False, id="single"), pytest.param(True, id="multi")]

# Hand-built pools: row 0 is the most uncertain, row 1 the most confident, rows 2 and 3 tie.
SINGLE = np.array([[0.34, 0.33, 0.33], [0.9, 0.05, 0.05], [0.6, 0.3, 0.1], [0.1, 0.6, 0.3]])
MULTI = np.array([[0.5, 0.45], [0.98, 0.01], [0.8, 0.3], [0.2, 0.7]])


def _pool(multi_label: bool) -> np.ndarray:
    return MULTI if multi_label else SINGLE


def test_registry_has_exactly_the_documented_names() -> None:
    assert strategy_names() == ["random", "least_confidence", "margin", "entropy"]
    assert set(STRATEGIES) == set(strategy_names())


@pytest.mark.parametrize("multi_label", BOTH_MODES)
@pytest.mark.parametrize("name", strategy_names())
def test_strategy_contract(name: str, multi_label: bool) -> None:
    rng = np.random.default_rng(0)
    proba = _pool(multi_label)
    scores = score(name, proba, multi_label=multi_label, rng=rng)
    assert scores.shape == (proba.shape[0],)
    assert scores.dtype == np.float64
    assert np.all(np.isfinite(scores))

    one_column = np.array([[1.0], [1.0]]) if not multi_label else np.array([[0.5], [0.99]])
    single = score(name, one_column, multi_label=multi_label, rng=rng)
    assert single.shape == (2,) and np.all(np.isfinite(single))

    certain = np.eye(3)  # one-hot rows: no uncertainty in either mode
    assert np.all(np.isfinite(score(name, certain, multi_label=multi_label, rng=rng)))

    with pytest.raises(EmptyPoolError, match="the pool is empty"):
        score(name, np.empty((0, 3)), multi_label=multi_label, rng=rng)

    if name == "random":
        return
    assert scores[0] > scores[1], "a near-uniform row must beat a confident row"
    assert scores[2] == pytest.approx(scores[3]), "rows equal up to permutation must tie"
    if multi_label:
        assert single[0] > single[1]
    else:
        assert_array_equal(single, 0.0)
    assert_allclose(score(name, certain, multi_label=multi_label), 0.0, atol=1e-12)


@pytest.mark.parametrize(
    ("name", "row", "expected"),
    [
        ("least_confidence", [0.7, 0.2, 0.1], 0.3),
        ("margin", [0.1, 0.6, 0.3], 0.7),
        ("margin", [0.5, 0.5, 0.0], 1.0),
        ("entropy", [0.25, 0.25, 0.25, 0.25], np.log(4)),
        ("entropy", [1.0, 0.0, 0.0], 0.0),
    ],
)
def test_single_label_values(name: str, row: list[float], expected: float) -> None:
    assert score(name, np.array([row]))[0] == pytest.approx(expected)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("least_confidence", (0.2 + 0.5) / 2), ("margin", (0.4 + 1.0) / 2), ("entropy", None)],
)
def test_multi_label_values_are_means_over_labels(name: str, expected: float | None) -> None:
    proba = np.array([[0.2, 0.5]])
    if expected is None:
        expected = np.mean([-(0.2 * np.log(0.2) + 0.8 * np.log(0.8)), np.log(2)])
    assert score(name, proba, multi_label=True)[0] == pytest.approx(expected)


def test_random_is_reproducible_with_a_seeded_rng() -> None:
    proba = np.full((50, 3), 1 / 3)
    first = score("random", proba, rng=np.random.default_rng(42))
    second = score("random", proba, rng=np.random.default_rng(42))
    other = score("random", proba, rng=np.random.default_rng(43))
    assert_array_equal(first, second)
    assert not np.array_equal(first, other)
    assert np.all((first >= 0.0) & (first < 1.0))


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(UnknownStrategyError, match="least_confidence.*margin.*entropy"):
        score("bald", SINGLE)


@pytest.mark.parametrize(
    "proba", [np.array([0.2, 0.8]), np.array([[0.5, np.nan]]), np.array([[1.5, -0.5]])]
)
def test_invalid_probabilities_are_rejected(proba: np.ndarray) -> None:
    with pytest.raises(ValueError, match="proba"):
        score("entropy", proba)


def test_select_top_k_orders_best_first() -> None:
    assert_array_equal(select_top_k(np.array([0.1, 0.9, 0.5, 0.7]), 2), [1, 3])


def test_select_top_k_breaks_ties_by_lower_index() -> None:
    assert_array_equal(select_top_k(np.array([0.5, 0.9, 0.5, 0.5]), 3), [1, 0, 2])
    assert_array_equal(select_top_k(np.ones(6), 2), [0, 1])


def test_select_top_k_matches_a_stable_full_sort() -> None:
    scores = np.random.default_rng(0).integers(0, 5, size=200).astype(float)
    expected = np.argsort(-scores, kind="stable")
    for k in (1, 7, 40, 199, 200):
        assert_array_equal(select_top_k(scores, k), expected[:k])


def test_select_top_k_with_k_beyond_the_pool_returns_all() -> None:
    assert_array_equal(select_top_k(np.array([0.2, 0.8, 0.5]), 10), [1, 2, 0])


@pytest.mark.parametrize("k", [0, -3])
def test_select_top_k_with_nonpositive_k_returns_nothing(k: int) -> None:
    chosen = select_top_k(np.array([0.2, 0.8]), k)
    assert chosen.shape == (0,)
    assert np.issubdtype(chosen.dtype, np.integer)


def test_select_top_k_on_an_empty_pool_raises() -> None:
    with pytest.raises(EmptyPoolError):
        select_top_k(np.array([]), 3)


def test_select_top_k_rejects_non_finite_scores() -> None:
    with pytest.raises(ValueError, match="finite"):
        select_top_k(np.array([0.1, np.nan]), 1)
