"""Committee: member probabilities (m, n, k), resampling, feature views, determinism."""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal

from app.learning.committee import Committee
from app.learning.estimators import NotEnoughLabelsError
from app.learning.strategies import score


def test_member_probabilities_have_shape_m_n_k(features: sp.csr_matrix, topics: np.ndarray) -> None:
    committee = Committee(4, n_members=3).fit(features, topics)
    members = committee.predict_proba_members(features[:7])
    assert members.shape == (3, 7, 4) and members.dtype == np.float64
    assert_allclose(members.sum(axis=2), 1.0, atol=1e-12)
    assert_allclose(committee.predict_proba(features[:7]), members.mean(axis=0))
    assert (committee.predict(features) == topics).mean() >= 0.9


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
