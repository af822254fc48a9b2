"""Query strategies: one contract test over the registry, exact values, EGL against finite
differences, and select_top_k."""

from collections.abc import Callable

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import log_softmax

from app.learning.diversity import gradient_norms
from app.learning.estimators import LabelModel
from app.learning.strategies import (
    STRATEGIES,
    EmptyPoolError,
    MissingInputError,
    UnknownStrategyError,
    needs_committee,
    score,
    select_top_k,
    strategy_names,
)

UNCERTAINTY = [name for name in strategy_names() if name != "random"]
BOTH_MODES = [pytest.param(False, id="single"), pytest.param(True, id="multi")]

# Hand-built pools: row 0 is the most uncertain, row 1 the most confident, rows 2 and 3 tie.
SINGLE = np.array([[0.34, 0.33, 0.33], [0.9, 0.05, 0.05], [0.6, 0.3, 0.1], [0.1, 0.6, 0.3]])
MULTI = np.array([[0.5, 0.45], [0.98, 0.01], [0.8, 0.3], [0.2, 0.7]])

# Hand-built committees (3 members, 4 rows): members of row 0 vote for three different labels,
# row 1 is unanimous and confident, row 3 is row 2 with the labels permuted (must tie).
SINGLE_COMMITTEE = np.array(
    [
        [[0.8, 0.1, 0.1], [0.9, 0.05, 0.05], [0.6, 0.3, 0.1], [0.3, 0.1, 0.6]],
        [[0.1, 0.8, 0.1], [0.9, 0.05, 0.05], [0.6, 0.3, 0.1], [0.3, 0.1, 0.6]],
        [[0.1, 0.1, 0.8], [0.9, 0.05, 0.05], [0.2, 0.7, 0.1], [0.7, 0.1, 0.2]],
    ]
)
MULTI_COMMITTEE = np.array(
    [
        [[0.9, 0.1], [0.98, 0.01], [0.8, 0.3], [0.3, 0.2]],
        [[0.1, 0.9], [0.98, 0.01], [0.8, 0.3], [0.3, 0.2]],
        [[0.6, 0.4], [0.98, 0.01], [0.4, 0.3], [0.3, 0.6]],
    ]
)


def _inputs(name: str, multi_label: bool) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(proba, extra score kwargs) of the hand-built pool for a strategy."""
    if not needs_committee(name):
        return (MULTI if multi_label else SINGLE), {}
    committee = MULTI_COMMITTEE if multi_label else SINGLE_COMMITTEE
    return committee.mean(axis=0), {"committee": committee}


def _unanimous(name: str, proba: np.ndarray) -> dict[str, np.ndarray]:
    """Extra kwargs for a pool where every committee member says `proba` (n, k)."""
    return {"committee": np.stack([proba] * 3)} if needs_committee(name) else {}


def test_registry_has_exactly_the_documented_names() -> None:
    assert strategy_names() == [
        "random",
        "least_confidence",
        "margin",
        "entropy",
        "expected_gradient_length",
        "qbc_vote_entropy",
        "qbc_kl",
    ]
    assert set(STRATEGIES) == set(strategy_names())
    assert [n for n in strategy_names() if needs_committee(n)] == ["qbc_vote_entropy", "qbc_kl"]


@pytest.mark.parametrize("multi_label", BOTH_MODES)
@pytest.mark.parametrize("name", strategy_names())
def test_strategy_contract(name: str, multi_label: bool) -> None:
    rng = np.random.default_rng(0)
    proba, extra = _inputs(name, multi_label)
    scores = score(name, proba, multi_label=multi_label, rng=rng, **extra)
    assert scores.shape == (proba.shape[0],)
    assert scores.dtype == np.float64
    assert np.all(np.isfinite(scores))

    one_column = np.array([[1.0], [1.0]]) if not multi_label else np.array([[0.5], [0.99]])
    kwargs = _unanimous(name, one_column)
    single = score(name, one_column, multi_label=multi_label, rng=rng, **kwargs)
    assert single.shape == (2,) and np.all(np.isfinite(single))

    certain = np.eye(3)  # one-hot rows: no uncertainty in either mode
    kwargs = _unanimous(name, certain)
    assert np.all(np.isfinite(score(name, certain, multi_label=multi_label, rng=rng, **kwargs)))

    with pytest.raises(EmptyPoolError, match="the pool is empty"):
        empty = {"committee": np.empty((3, 0, 3))} if needs_committee(name) else {}
        score(name, np.empty((0, 3)), multi_label=multi_label, rng=rng, **empty)

    if name == "random":
        return
    assert scores[0] > scores[1], "an uncertain or disputed row must beat a confident one"
    assert scores[2] == pytest.approx(scores[3]), "rows equal up to permutation must tie"
    if multi_label and not needs_committee(name):
        assert single[0] > single[1]
    elif not multi_label:
        assert_allclose(single, 0.0, atol=1e-12)
    kwargs = _unanimous(name, certain)
    assert_allclose(score(name, certain, multi_label=multi_label, **kwargs), 0.0, atol=1e-12)


@pytest.mark.parametrize("name", [n for n in strategy_names() if needs_committee(n)])
def test_committee_strategies_need_a_committee_of_the_pool_shape(name: str) -> None:
    with pytest.raises(MissingInputError, match="committee"):
        score(name, SINGLE)
    with pytest.raises(ValueError, match="committee must have shape"):
        score(name, SINGLE, committee=SINGLE_COMMITTEE[:, :3])
    with pytest.raises(ValueError, match="committee must hold"):
        score(name, SINGLE_COMMITTEE.mean(0), committee=SINGLE_COMMITTEE * 2)


@pytest.mark.parametrize("name", [n for n in strategy_names() if needs_committee(n)])
def test_committee_disagreement_beats_shared_uncertainty(name: str) -> None:
    # Row 0: members agree on a flat distribution; row 1: confident members who disagree.
    committee = np.array(
        [
            [[0.4, 0.3, 0.3], [0.9, 0.05, 0.05]],
            [[0.4, 0.3, 0.3], [0.05, 0.9, 0.05]],
        ]
    )
    scores = score(name, committee.mean(axis=0), committee=committee)
    assert scores[1] > scores[0]


@pytest.mark.parametrize(
    ("name", "row", "expected"),
    [
        ("least_confidence", [0.7, 0.2, 0.1], 0.3),
        ("margin", [0.1, 0.6, 0.3], 0.7),
        ("margin", [0.5, 0.5, 0.0], 1.0),
        ("entropy", [0.25, 0.25, 0.25, 0.25], np.log(4)),
        ("entropy", [1.0, 0.0, 0.0], 0.0),
        # EGL with unit norms: sum_y p_y ||p - e_y||.
        ("expected_gradient_length", [0.5, 0.5], 2 * 0.5 * np.sqrt(0.5)),
        ("expected_gradient_length", [1.0, 0.0, 0.0], 0.0),
    ],
)
def test_single_label_values(name: str, row: list[float], expected: float) -> None:
    assert score(name, np.array([row]))[0] == pytest.approx(expected)


def test_expected_gradient_length_scales_with_the_feature_norm() -> None:
    proba = np.array([[0.7, 0.2, 0.1], [0.7, 0.2, 0.1]])
    unit = score("expected_gradient_length", proba)
    scaled = score("expected_gradient_length", proba, norms=np.array([1.0, 3.0]))
    assert_allclose(scaled, unit * [1.0, 3.0])
    with pytest.raises(ValueError, match="norms"):
        score("expected_gradient_length", proba, norms=np.array([1.0]))


def test_vote_entropy_values() -> None:
    # Row 0: votes 0, 1, 2 -> log 3; row 1: unanimous -> 0 (plus a tie-break below 1e-6).
    scores = score("qbc_vote_entropy", SINGLE_COMMITTEE.mean(0), committee=SINGLE_COMMITTEE)
    assert scores[0] == pytest.approx(np.log(3), abs=1e-6)
    assert 0.0 < scores[1] < 1e-6
    two_to_one = -(2 / 3) * np.log(2 / 3) - (1 / 3) * np.log(1 / 3)
    assert scores[2] == pytest.approx(two_to_one, abs=1e-6)


def test_vote_entropy_ties_in_votes_go_to_the_less_confident_consensus() -> None:
    committee = np.array([[[0.9, 0.1], [0.6, 0.4]], [[0.9, 0.1], [0.6, 0.4]]])
    scores = score("qbc_vote_entropy", committee.mean(0), committee=committee)
    assert scores[1] > scores[0]


def test_kl_to_consensus_values() -> None:
    committee = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])  # consensus (0.5, 0.5)
    assert score("qbc_kl", np.array([[0.5, 0.5]]), committee=committee)[0] == pytest.approx(
        np.log(2)
    )
    multi = score("qbc_kl", np.array([[0.5]]), committee=committee[:, :, :1], multi_label=True)
    assert multi[0] == pytest.approx(np.log(2))


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
    with pytest.raises(UnknownStrategyError, match="least_confidence.*margin.*qbc_kl"):
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


def _numeric_gradient(loss: Callable[[np.ndarray], float], theta: np.ndarray) -> np.ndarray:
    """Central finite differences of loss at theta (any shape)."""
    grad = np.zeros_like(theta)
    step = 1e-6
    for index in np.ndindex(theta.shape):
        shifted = theta.copy()
        shifted[index] += step
        up = loss(shifted)
        shifted[index] -= 2 * step
        grad[index] = (up - loss(shifted)) / (2 * step)
    return grad


def _blobs(n_labels: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(n_labels), 10)
    return 2.0 * np.eye(4)[y] + rng.normal(scale=0.7, size=(y.size, 4)), y


def test_expected_gradient_length_matches_finite_differences() -> None:
    X, y = _blobs(3)
    model = LabelModel(3).fit(X, y)
    theta = np.column_stack([model.estimator_.coef_, model.estimator_.intercept_])  # (3, 5)
    pool = np.random.default_rng(1).normal(scale=1.5, size=(6, 4))
    proba = model.predict_proba(pool)
    expected = []
    for x, p in zip(pool, proba, strict=True):
        x1 = np.append(x, 1.0)
        lengths = [
            np.linalg.norm(_numeric_gradient(lambda t, x1=x1, c=c: -log_softmax(t @ x1)[c], theta))
            for c in range(3)
        ]
        expected.append(np.dot(p, lengths))
    closed = score("expected_gradient_length", proba, norms=gradient_norms(pool))
    assert_allclose(closed, expected, rtol=1e-5)
    assert np.ptp(closed) > 0.1  # the pool is not degenerate


def test_multi_label_expected_gradient_length_matches_finite_differences() -> None:
    X, y = _blobs(3)
    Y = np.column_stack([y == 0, y != 1]).astype(int)
    model = LabelModel(2, multi_label=True).fit(X, Y)
    pool = np.random.default_rng(2).normal(scale=1.5, size=(5, 4))
    proba = model.predict_proba(pool)
    expected = np.zeros(len(pool))
    for j, estimator in enumerate(model.estimators_):
        theta = np.append(estimator.coef_.ravel(), estimator.intercept_)
        for i, x in enumerate(pool):
            x1 = np.append(x, 1.0)
            for target, weight in ((1, proba[i, j]), (0, 1.0 - proba[i, j])):
                grad = _numeric_gradient(lambda t, x1=x1, c=target: _log_loss(t @ x1, c), theta)
                expected[i] += weight * np.linalg.norm(grad) / 2  # mean over the 2 labels
    closed = score("expected_gradient_length", proba, multi_label=True, norms=gradient_norms(pool))
    assert_allclose(closed, expected, rtol=1e-5)


def _log_loss(z: float, target: int) -> float:
    return float(np.logaddexp(0.0, -z) if target == 1 else np.logaddexp(0.0, z))
