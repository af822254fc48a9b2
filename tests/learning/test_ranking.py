"""rank_pool: the published ranking for every strategy, diversity, density, exploration, cold
start, chunked pool scoring and the default options."""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from threadpoolctl import threadpool_limits

from app.learning import ranking
from app.learning.committee import Committee
from app.learning.estimators import LabelModel
from app.learning.options import DEFAULT_OPTIONS
from app.learning.ranking import (
    Diversity,
    in_warm_up,
    rank_pool,
    rank_scores,
    score_pool,
)
from app.learning.strategies import (
    EmptyPoolError,
    MissingInputError,
    UnknownStrategyError,
    needs_committee,
    score,
    strategy_names,
)


def _pool(n: int = 60, k: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features (n, 5), proba (n, k), committee (4, n, k)) of a random pool."""
    rng = np.random.default_rng(seed)
    committee = rng.dirichlet(np.ones(k), size=(4, n))
    return rng.normal(size=(n, 5)), committee.mean(axis=0), committee


@pytest.mark.parametrize("name", strategy_names())
def test_every_strategy_ranks_distinct_pool_rows_best_first(name: str) -> None:
    features, proba, committee = _pool()
    result = rank_pool(
        name, proba, depth=20, rng=np.random.default_rng(0), committee=committee, features=features
    )
    assert result.indices.shape == (20,) and result.scores.shape == (20,)
    assert np.unique(result.indices).size == 20
    assert np.all(np.diff(result.scores) <= 0)
    expected = score(
        name,
        proba,
        rng=np.random.default_rng(0),
        committee=committee if needs_committee(name) else None,
    )
    if name not in ("random", "expected_gradient_length"):  # random draws, EGL uses the norms
        assert_allclose(result.scores, np.sort(expected)[::-1][:20])


def test_depth_is_capped_at_the_pool_size() -> None:
    _, proba, _ = _pool(n=5)
    assert rank_pool("margin", proba, depth=100, rng=np.random.default_rng(0)).indices.size == 5


def test_an_empty_pool_is_a_named_error() -> None:
    with pytest.raises(EmptyPoolError):
        rank_pool("margin", np.empty((0, 3)), depth=10, rng=np.random.default_rng(0))
    with pytest.raises(EmptyPoolError):
        rank_pool("margin", None, depth=10, rng=np.random.default_rng(0), features=np.empty((0, 2)))


def test_unknown_strategy_and_missing_committee_are_named_errors() -> None:
    _, proba, _ = _pool()
    with pytest.raises(UnknownStrategyError):
        rank_pool("bald", proba, depth=5, rng=np.random.default_rng(0))
    with pytest.raises(MissingInputError):
        rank_pool("qbc_kl", proba, depth=5, rng=np.random.default_rng(0))


def test_egl_uses_the_feature_norms() -> None:
    proba = np.full((3, 2), 0.5)
    features = np.array([[1.0, 0.0], [3.0, 0.0], [2.0, 0.0]])
    result = rank_pool(
        "expected_gradient_length", proba, depth=3, rng=np.random.default_rng(0), features=features
    )
    assert_array_equal(result.indices, [1, 2, 0])


def _duplicated_pool() -> tuple[np.ndarray, np.ndarray]:
    """Five tight groups of 10 near-duplicates; group 0 is the most uncertain, then group 1..."""
    rng = np.random.default_rng(0)
    features = np.repeat(np.eye(5), 10, axis=0) + rng.normal(scale=0.01, size=(50, 5))
    top = np.repeat([0.50, 0.55, 0.60, 0.65, 0.70], 10) + rng.uniform(0, 0.01, 50)
    return features, np.column_stack([top, 1 - top])


def test_plain_margin_takes_a_batch_of_near_duplicates() -> None:
    _, proba = _duplicated_pool()
    result = rank_pool("margin", proba, depth=5, rng=np.random.default_rng(0))
    assert set(result.indices // 10) == {0}


@pytest.mark.parametrize("method", ["cluster", "farthest_first"])
def test_diversity_spreads_the_batch_over_the_groups(method: str) -> None:
    features, proba = _duplicated_pool()
    result = rank_pool(
        "margin",
        proba,
        depth=30,
        rng=np.random.default_rng(0),
        features=features,
        diversity=Diversity(batch=5, candidates=10, method=method),
    )
    assert sorted(result.indices[:5] // 10) == [0, 1, 2, 3, 4]
    assert result.indices[0] == np.argmax(score("margin", proba))  # the best item leads
    assert np.unique(result.indices).size == 30
    rest = result.scores[5:]
    assert np.all(np.diff(rest) <= 0)  # after the diverse batch: score order


def test_diversity_keeps_away_from_labelled_items() -> None:
    features, proba = _duplicated_pool()
    labeled = np.eye(5)[1:]  # groups 1-4 already have labels
    result = rank_pool(
        "margin",
        proba,
        depth=2,
        rng=np.random.default_rng(0),
        features=features,
        labeled_features=labeled,
        diversity=Diversity(batch=2, candidates=25, method="farthest_first"),
    )
    assert set(result.indices // 10) == {0}


def test_warm_up_leads_with_typical_items_of_unlabelled_groups() -> None:
    features, proba = _duplicated_pool()
    labeled = np.eye(5)[:3]  # groups 0-2 already have labels; group 0 is the most uncertain
    result = rank_pool(
        "margin",
        proba,
        depth=20,
        rng=np.random.default_rng(0),
        features=features,
        labeled_features=labeled,
        warm_up=2,
    )
    assert sorted(result.indices[:2] // 10) == [3, 4]
    assert np.unique(result.indices).size == 20
    by_score = np.argsort(-score("margin", proba), kind="stable")
    by_score = by_score[~np.isin(by_score, result.indices[:2])]
    assert_array_equal(result.indices[2:], by_score[:18])  # then the rest in score order
    with pytest.raises(ValueError, match="features"):
        rank_pool("margin", proba, depth=5, rng=np.random.default_rng(0), warm_up=2)


@pytest.mark.parametrize(
    ("strategy", "n_labeled", "per_label", "expected"),
    [
        ("margin", 19, 2.0, True),
        ("margin", 20, 2.0, False),
        ("margin", 0, 0.0, False),
        ("qbc_kl", 4, 0.5, True),
        ("random", 0, 2.0, False),
    ],
)
def test_in_warm_up_while_labels_per_class_are_few(
    strategy: str, n_labeled: int, per_label: float, expected: bool
) -> None:
    assert in_warm_up(strategy, n_labeled, 10, per_label) is expected


def test_density_weighting_demotes_outliers() -> None:
    rng = np.random.default_rng(0)
    features = np.vstack([np.eye(3)[0] + rng.normal(scale=0.05, size=(20, 3)), [[0, 0, 1.0]]])
    proba = np.full((21, 2), 0.5)
    proba[:20] = [0.45, 0.55]  # the outlier (row 20) is the most uncertain
    plain = rank_pool("margin", proba, depth=1, rng=np.random.default_rng(0))
    dense = rank_pool(
        "margin", proba, depth=1, rng=np.random.default_rng(0), features=features, density_power=1
    )
    assert plain.indices[0] == 20 and dense.indices[0] != 20


def test_diversity_and_density_need_features() -> None:
    _, proba, _ = _pool()
    with pytest.raises(ValueError, match="features"):
        rank_pool("margin", proba, depth=5, rng=np.random.default_rng(0), diversity=Diversity())
    with pytest.raises(ValueError, match="features"):
        rank_pool("margin", proba, depth=5, rng=np.random.default_rng(0), density_power=1.0)


def test_exploration_puts_random_pool_items_in_every_batch() -> None:
    proba = np.column_stack([np.linspace(0.5, 1.0, 1000), np.linspace(0.5, 0.0, 1000)])
    result = rank_pool("margin", proba, depth=40, rng=np.random.default_rng(0), epsilon=0.25)
    assert np.unique(result.indices).size == 40
    slots = np.array([3, 7, 11, 15, 19, 23, 27, 31, 35, 39])
    assert np.all(result.indices[slots] >= 30)  # drawn from outside the 30 best
    keep = np.setdiff1d(np.arange(40), slots)
    assert_array_equal(result.indices[keep], np.arange(30))  # the rest in score order
    same = rank_pool("margin", proba, depth=40, rng=np.random.default_rng(0), epsilon=0.25)
    assert_array_equal(result.indices, same.indices)


def test_exploration_when_the_ranking_covers_the_whole_pool() -> None:
    _, proba, _ = _pool(n=10)
    result = rank_pool("margin", proba, depth=10, rng=np.random.default_rng(0), epsilon=0.5)
    assert sorted(result.indices) == list(range(10))


def test_cold_start_leads_with_representatives_then_random_items() -> None:
    rng = np.random.default_rng(0)
    features = np.repeat(np.eye(4), 25, axis=0) + rng.normal(scale=0.05, size=(100, 4))
    result = rank_pool(
        "margin",
        None,
        depth=30,
        rng=np.random.default_rng(0),
        features=features,
        n_representatives=4,
    )
    assert sorted(result.indices[:4] // 25) == [0, 1, 2, 3]
    assert np.unique(result.indices).size == 30
    assert_array_equal(result.scores, [1.0] * 4 + [0.0] * 26)
    with pytest.raises(ValueError, match="features"):
        rank_pool("margin", None, depth=30, rng=np.random.default_rng(0))


def test_rank_scores_checks_the_feature_rows() -> None:
    with pytest.raises(ValueError, match="rows"):
        rank_scores(
            np.ones(4),
            depth=2,
            rng=np.random.default_rng(0),
            features=np.ones((3, 2)),
            diversity=Diversity(batch=2),
        )


@pytest.mark.parametrize(
    "name", ["margin", "expected_gradient_length", "qbc_kl", "qbc_vote_entropy"]
)
def test_chunked_pool_scoring_equals_scoring_everything_at_once(
    name: str, features: sp.csr_matrix, topics: np.ndarray
) -> None:
    model = (Committee if needs_committee(name) else LabelModel)(3).fit(features[::3], topics[::3])
    chunked = score_pool(name, model, features, rng=np.random.default_rng(0), chunk_rows=7)
    if needs_committee(name):
        members = model.predict_proba_members(features)
        whole = score(name, members.mean(axis=0), committee=members)
        # float32 features: float32 members, scored from logits in chunks, from
        # probabilities at once (tests/learning/test_committee.py checks float64 to 1e-12)
        assert_allclose(chunked, whole, atol=1e-6)
    else:
        norms = ranking.gradient_norms(features) if name == "expected_gradient_length" else None
        whole = score(name, model.predict_proba(features), norms=norms)
        # float32 features are scored in float32 chunk by chunk; float64 ones exactly
        assert features.dtype == np.float32
        assert_allclose(chunked, whole, atol=1e-6)
        wide = features.astype(np.float64)
        chunked = score_pool(name, model, wide, rng=np.random.default_rng(0), chunk_rows=7)
        norms = ranking.gradient_norms(wide) if norms is not None else None
        assert_allclose(chunked, score(name, model.predict_proba(wide), norms=norms), atol=1e-12)


@pytest.mark.parametrize("name", ["margin", "qbc_vote_entropy"])
def test_chunks_scored_in_parallel_equal_chunks_scored_in_turn(
    name: str, features: sp.csr_matrix, topics: np.ndarray
) -> None:
    model = (Committee if needs_committee(name) else LabelModel)(3).fit(features, topics)
    parallel = score_pool(name, model, features, rng=np.random.default_rng(0), chunk_rows=4)
    with threadpool_limits(limits=1):  # as `labelloop worker` caps itself: one thread
        assert ranking._scoring_threads() == 1
        in_turn = score_pool(name, model, features, rng=np.random.default_rng(0), chunk_rows=4)
    assert_array_equal(parallel, in_turn)


def test_committee_strategies_need_a_committee_model(
    features: sp.csr_matrix, topics: np.ndarray
) -> None:
    model = LabelModel(3).fit(features, topics)
    with pytest.raises(MissingInputError):
        score_pool("qbc_kl", model, features, rng=np.random.default_rng(0))


def test_the_default_options_rank_a_pool_and_a_cold_pool() -> None:
    features, proba, _ = _pool(n=400)
    options = {
        "diversity": DEFAULT_OPTIONS.batch_diversity(),
        "epsilon": DEFAULT_OPTIONS.epsilon,
        "n_representatives": DEFAULT_OPTIONS.cold_start_representatives(),
    }
    warm = rank_pool(
        "margin", proba, depth=100, rng=np.random.default_rng(0), features=features, **options
    )
    cold = rank_pool(
        "margin", None, depth=100, rng=np.random.default_rng(0), features=features, **options
    )
    for result in (warm, cold):
        assert result.indices.shape == (100,) and np.unique(result.indices).size == 100
    assert cold.scores.sum() == DEFAULT_OPTIONS.batch_size  # representatives score 1


def test_warm_up_ends_early_when_the_labels_look_imbalanced() -> None:
    balanced, skewed = np.array([4, 3, 4, 3, 4]), np.array([15, 1, 1, 0, 1])
    assert in_warm_up("margin", 18, 5, 20.0, balanced)
    assert not in_warm_up("margin", 18, 5, 20.0, skewed)
    assert in_warm_up("margin", 18, 5, 20.0)  # no counts: the labels-per-class rule alone


def test_an_imbalanced_warm_up_goes_on_while_every_class_is_seen_and_below_its_share() -> None:
    seen, full = np.array([18, 1, 6]), np.array([22, 1, 6])  # both imbalanced (chi-square)
    assert in_warm_up("margin", 25, 3, 20.0, seen)
    assert not in_warm_up("margin", 29, 3, 20.0, full)  # the biggest class has its 20
    assert not in_warm_up("margin", 25, 3, 20.0, np.array([19, 0, 6]))  # a class unseen
