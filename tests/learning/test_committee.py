"""Committee: member probabilities (m, n, k), resampling, feature views, determinism."""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal

from app.learning.committee import Committee
from app.learning.estimators import NotEnoughLabelsError
from app.learning.qbc import kl_of, stats_from_probabilities, vote_entropy_of
from app.learning.strategies import score


def test_member_probabilities_have_shape_m_n_k(features: sp.csr_matrix, topics: np.ndarray) -> None:
    committee = Committee(4, n_members=3).fit(features, topics)
    members = committee.predict_proba_members(features[:7])
    assert features.dtype == np.float32
    assert members.shape == (3, 7, 4) and members.dtype == np.float32
    assert_allclose(members.sum(axis=2), 1.0, atol=1e-6)
    assert_allclose(committee.predict_proba(features[:7]), members.mean(axis=0))
    assert (committee.predict(features) == topics).mean() >= 0.9
    wide = committee.predict_proba_members(features[:7].astype(np.float64))
    assert wide.dtype == np.float64
    assert_allclose(wide.sum(axis=2), 1.0, atol=1e-12)
    assert_allclose(wide, members, atol=1e-6)


@pytest.mark.parametrize(
    "options",
    [{}, {"max_features": 0.5, "bootstrap": False}, {"n_members": 4, "views": True}],
    ids=["bootstrap", "subspace", "two-views"],
)
@pytest.mark.parametrize("n_labels", [3, 4, 2], ids=["all-seen", "one-unseen", "binary"])
def test_stacked_prediction_and_stats_equal_each_member_on_its_own(
    features: sp.csr_matrix, topics: np.ndarray, options: dict, n_labels: int
) -> None:
    options = dict(options)
    X = features.astype(np.float64)
    y = np.minimum(topics, n_labels - 1) if n_labels == 2 else topics
    pool: list | sp.csr_matrix = X
    if options.pop("views", False):
        dense = np.eye(3)[topics] + np.random.default_rng(0).normal(scale=0.3, size=(45, 3))
        pool = [X, dense]
    committee = Committee(n_labels, **options).fit(pool, y)
    views = pool if isinstance(pool, list) else [pool]
    own = np.stack(
        [
            member.predict_proba(views[view] if columns is None else views[view][:, columns])
            for member, view, columns in zip(
                committee.members_, committee.views_, committee.columns_, strict=True
            )
        ]
    )
    assert_allclose(committee.predict_proba_members(pool), own, atol=1e-12)
    stats = committee.member_stats(pool)
    expected = stats_from_probabilities(own)
    assert_allclose(stats.consensus, expected.consensus, atol=1e-12)
    assert_array_equal(stats.votes, expected.votes)
    assert_allclose(stats.entropies, expected.entropies, atol=1e-12)
    for name in ("qbc_vote_entropy", "qbc_kl"):
        fused = (vote_entropy_of if name == "qbc_vote_entropy" else kl_of)(stats)
        assert_allclose(fused, score(name, own.mean(0), committee=own), atol=1e-12)


@pytest.mark.parametrize("scale", [1.0, 2000.0], ids=["small-logits", "logits-over-80"])
def test_member_stats_of_a_float32_pool(
    features: sp.csr_matrix, topics: np.ndarray, scale: float
) -> None:
    committee = Committee(3).fit(features, topics)
    pool = (features * scale).astype(np.float32)
    members = committee.predict_proba_members(pool.astype(np.float64))
    with np.errstate(divide="ignore"):  # a logit spread over 160 means some |z| is over 80
        spread = np.log(members.max(axis=2)) - np.log(members.min(axis=2))
    assert scale == 1.0 or spread.max() > 160
    stats = committee.member_stats(pool)
    assert stats.consensus.dtype == np.float32 and np.all(np.isfinite(stats.entropies))
    expected = stats_from_probabilities(members)
    assert_allclose(stats.consensus, expected.consensus, atol=1e-6)
    assert_allclose(stats.entropies, expected.entropies, atol=1e-5)
    assert_array_equal(stats.votes, expected.votes)


def test_member_stats_are_single_label_only(features: sp.csr_matrix, topics: np.ndarray) -> None:
    Y = np.column_stack([topics == 0, topics != 2]).astype(int)
    committee = Committee(2, n_members=2, multi_label=True).fit(features, Y)
    with pytest.raises(ValueError, match="single-label"):
        committee.member_stats(features)


def test_default_committee_has_five_members(features: sp.csr_matrix, topics: np.ndarray) -> None:
    committee = Committee(3).fit(features, topics)
    assert len(committee.members_) == 5
    assert committee.predict_proba_members(features).shape == (5, 45, 3)


def test_bootstrap_members_differ_and_see_every_class(
    features: sp.csr_matrix, topics: np.ndarray
) -> None:
    rows = np.array([0, 1, 2, 3, 15, 16, 30])  # class 2 has a single labelled row
    committee = Committee(3, n_members=6).fit(features[rows], topics[rows])
    members = committee.predict_proba_members(features)
    assert not np.allclose(members[0], members[1])
    # every member saw the lone class-2 row: none gives class 2 zero probability
    assert np.all(members[:, :, 2] > 0)


def test_without_bootstrap_members_use_all_rows(
    features: sp.csr_matrix, topics: np.ndarray
) -> None:
    members = Committee(3, n_members=2, bootstrap=False).fit(features, topics)
    proba = members.predict_proba_members(features)
    assert_allclose(proba[0], proba[1], atol=0.02)  # only saga's seed differs


def test_members_can_use_different_feature_views(
    features: sp.csr_matrix, topics: np.ndarray
) -> None:
    dense = np.eye(3)[topics] + np.random.default_rng(0).normal(scale=0.3, size=(45, 3))
    committee = Committee(3, n_members=4, bootstrap=False).fit([features, dense], topics)
    assert committee.views_ == [0, 1, 0, 1]
    members = committee.predict_proba_members([features, dense])
    assert members.shape == (4, 45, 3)
    assert not np.allclose(members[0], members[1])
    assert_allclose(members[0], members[2], atol=0.02)


def test_fit_is_deterministic(features: sp.csr_matrix, topics: np.ndarray) -> None:
    first = Committee(3, random_state=4).fit(features, topics).predict_proba_members(features)
    second = Committee(3, random_state=4).fit(features, topics).predict_proba_members(features)
    assert_array_equal(first, second)


def test_multi_label_committee(features: sp.csr_matrix, topics: np.ndarray) -> None:
    Y = np.column_stack([topics == 0, topics != 2]).astype(int)
    committee = Committee(2, n_members=3, multi_label=True).fit(features, Y)
    members = committee.predict_proba_members(features)
    assert members.shape == (3, 45, 2)
    assert committee.predict(features).shape == (45, 2)
    scores = score("qbc_kl", members.mean(0), committee=members, multi_label=True)
    assert scores.shape == (45,) and np.all(np.isfinite(scores))


def test_a_single_label_cannot_train(features: sp.csr_matrix) -> None:
    with pytest.raises(NotEnoughLabelsError):
        Committee(3).fit(features[:4], np.zeros(4, dtype=int))


def test_random_subspace_members_see_every_row_and_part_of_the_columns(
    features: sp.csr_matrix, topics: np.ndarray
) -> None:
    committee = Committee(3, n_members=3, bootstrap=False, max_features=0.5).fit(features, topics)
    d = features.shape[1]
    for columns in committee.columns_:
        assert columns.size == int(np.ceil(d / 2)) and np.all(np.diff(columns) > 0)
    members = committee.predict_proba_members(features)
    assert members.shape == (3, 45, 3)
    assert not np.allclose(members[0], members[1])
    with pytest.raises(ValueError, match="max_features"):
        Committee(3, max_features=0.0).fit(features, topics)
