"""LabelModel: training on a real little corpus, the label space contract, degenerate labels."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

from app.learning import estimators
from app.learning.estimators import LabelModel, NotEnoughLabelsError
from app.learning.features import TfidfFeaturizer

HELD_OUT = [
    "The striker missed a penalty in the football match.",
    "Fry the garlic in butter and add salt.",
    "The software update crashed my computer.",
]


def _multi_label_targets(topics: np.ndarray) -> np.ndarray:
    """(n, 4): is-sports, is-cooking, an always-0 column, an always-1 column."""
    return np.column_stack(
        [topics == 0, topics == 1, np.zeros_like(topics), np.ones_like(topics)]
    ).astype(int)


def test_single_label_learns_the_topics(
    features: sp.csr_matrix, topics: np.ndarray, featurizer: TfidfFeaturizer
) -> None:
    model = LabelModel(3).fit(features, topics)
    assert (model.predict(features) == topics).mean() >= 0.95
    assert_array_equal(model.predict(featurizer.transform(HELD_OUT)), [0, 1, 2])


def test_single_label_proba_rows_sum_to_one(features: sp.csr_matrix, topics: np.ndarray) -> None:
    proba = LabelModel(3).fit(features, topics).predict_proba(features)
    assert proba.shape == (features.shape[0], 3)
    assert proba.dtype == np.float64
    assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)


def test_labels_never_seen_in_training_get_zero_probability(
    features: sp.csr_matrix, topics: np.ndarray
) -> None:
    y = np.array([0, 3, 4])[topics]  # label space of 6; 1, 2 and 5 are never used
    model = LabelModel(6).fit(features, y)
    proba = model.predict_proba(features)
    assert proba.shape == (features.shape[0], 6)
    assert np.all(proba[:, [1, 2, 5]] == 0.0)
    assert np.all(proba[:, [0, 3, 4]] > 0.0)
    assert set(np.unique(model.predict(features))) <= {0, 3, 4}
    assert_array_equal(model.classes_, np.arange(6))


def test_predict_returns_int_label_indices(features: sp.csr_matrix, topics: np.ndarray) -> None:
    predicted = LabelModel(3).fit(features, topics).predict(features)
    assert predicted.shape == (features.shape[0],)
    assert np.issubdtype(predicted.dtype, np.integer)


def test_two_labels_give_a_two_class_model(features: sp.csr_matrix, topics: np.ndarray) -> None:
    keep = topics < 2
    model = LabelModel(3).fit(features[keep], topics[keep])
    proba = model.predict_proba(features[keep])
    assert np.all(proba[:, 2] == 0.0)
    assert (model.predict(features[keep]) == topics[keep]).mean() >= 0.95


def test_same_solution_as_plain_logistic_regression(
    features: sp.csr_matrix, topics: np.ndarray
) -> None:
    # LabelModel fits only on the non-zero feature columns; the optimum must not change
    # (agreement within saga's convergence tolerance).
    train = np.arange(0, 45, 3)
    model = LabelModel(3, tol=1e-7, max_iter=20_000).fit(features[train], topics[train])
    assert model.active_features_.size < features.shape[1]
    reference = LogisticRegression(C=10.0, solver="saga", tol=1e-7, max_iter=20_000).fit(
        features[train], topics[train]
    )
    assert_allclose(model.predict_proba(features), reference.predict_proba(features), atol=0.02)


def test_dense_and_sparse_inputs_agree(features: sp.csr_matrix, topics: np.ndarray) -> None:
    dense = features.toarray()
    from_sparse = LabelModel(3).fit(features, topics).predict_proba(features)
    from_dense = LabelModel(3).fit(dense, topics).predict_proba(dense)
    assert_allclose(from_sparse, from_dense, atol=0.02)  # saga tolerance


def test_fit_is_deterministic(features: sp.csr_matrix, topics: np.ndarray) -> None:
    first = LabelModel(3, random_state=7).fit(features, topics).predict_proba(features)
    second = LabelModel(3, random_state=7).fit(features, topics).predict_proba(features)
    assert_array_equal(first, second)


def test_a_single_label_cannot_train(features: sp.csr_matrix) -> None:
    with pytest.raises(NotEnoughLabelsError, match="at least 2 different labels"):
        LabelModel(3).fit(features[:5], np.zeros(5, dtype=int))


def test_no_rows_cannot_train(features: sp.csr_matrix) -> None:
    with pytest.raises(NotEnoughLabelsError):
        LabelModel(3).fit(features[:0], np.zeros(0, dtype=int))
    with pytest.raises(NotEnoughLabelsError):
        LabelModel(3, multi_label=True).fit(features[:0], np.zeros((0, 3), dtype=int))


def test_not_enough_labels_is_a_value_error() -> None:
    assert issubclass(NotEnoughLabelsError, ValueError)


@pytest.mark.parametrize(
    "y", [np.array([0, 1, 3]), np.array([0, 1, -1]), np.array([0, 1]), np.array([0.5, 1, 0])]
)
def test_bad_single_label_targets_are_rejected(features: sp.csr_matrix, y: np.ndarray) -> None:
    with pytest.raises(ValueError, match="single-label y"):
        LabelModel(3).fit(features[:3], y)


def test_predict_rejects_a_different_feature_width(
    features: sp.csr_matrix, topics: np.ndarray
) -> None:
    model = LabelModel(3).fit(features, topics)
    with pytest.raises(ValueError, match="features"):
        model.predict_proba(features[:, :10])


def test_multi_label_learns_each_column(features: sp.csr_matrix, topics: np.ndarray) -> None:
    Y = _multi_label_targets(topics)
    model = LabelModel(4, multi_label=True).fit(features, Y)
    predicted = model.predict(features)
    assert predicted.shape == Y.shape
    assert np.issubdtype(predicted.dtype, np.integer)
    assert (predicted[:, :2] == Y[:, :2]).mean() >= 0.95


def test_multi_label_constant_columns_predict_their_constant(
    features: sp.csr_matrix, topics: np.ndarray, featurizer: TfidfFeaturizer
) -> None:
    model = LabelModel(4, multi_label=True).fit(features, _multi_label_targets(topics))
    proba = model.predict_proba(featurizer.transform(HELD_OUT))
    assert proba.shape == (3, 4) and proba.dtype == np.float64
    assert_array_equal(proba[:, 2], 0.0)
    assert_array_equal(proba[:, 3], 1.0)
    assert np.all((proba >= 0.0) & (proba <= 1.0))
    assert proba[0, 0] > 0.5 and proba[1, 1] > 0.5


def test_multi_label_with_every_column_constant(features: sp.csr_matrix) -> None:
    Y = np.tile([1, 0], (5, 1))
    proba = LabelModel(2, multi_label=True).fit(features[:5], Y).predict_proba(features)
    assert_array_equal(proba, np.tile([1.0, 0.0], (features.shape[0], 1)))


@pytest.mark.parametrize("Y", [np.zeros((3, 2)), np.full((3, 3), 2), np.zeros(3)])
def test_bad_multi_label_targets_are_rejected(features: sp.csr_matrix, Y: np.ndarray) -> None:
    with pytest.raises(ValueError, match="multi-label y"):
        LabelModel(3, multi_label=True).fit(features[:3], Y)


def test_follows_the_estimator_parameter_contract() -> None:
    model = clone(LabelModel(5, multi_label=True, C=1.0))
    assert model.get_params() == {
        "n_labels": 5,
        "multi_label": True,
        "C": 1.0,
        "max_iter": 300,
        "tol": 1e-3,
        "random_state": 0,
    }


def test_survives_a_pickle_round_trip(features: sp.csr_matrix, topics: np.ndarray) -> None:
    model = LabelModel(3).fit(features, topics)
    restored = pickle.loads(pickle.dumps(model))
    assert_array_equal(restored.predict_proba(features), model.predict_proba(features))


@pytest.mark.parametrize("n_labels", [2, 3])
def test_chunked_probabilities_equal_scikit_learn(
    features: sp.csr_matrix, topics: np.ndarray, n_labels: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(estimators, "PREDICT_CHUNK_ROWS", 7)  # several chunks on 45 rows
    keep = topics < n_labels
    model = LabelModel(4).fit(features[keep], topics[keep])
    expected = model.estimator_.predict_proba(features[:, model.active_features_])
    proba = model.predict_proba(features)
    assert_allclose(proba[:, model.estimator_.classes_], expected, atol=1e-6)
    assert np.all(proba[:, n_labels:] == 0.0)


def test_dense_float32_features_are_used_without_a_copy(topics: np.ndarray) -> None:
    X = (np.eye(3)[topics] + np.random.default_rng(0).normal(scale=0.3, size=(45, 3))).astype(
        np.float32
    )
    model = LabelModel(3).fit(X, topics)
    assert model.active_features_.size == 3
    reference = model.estimator_.predict_proba(X.astype(np.float64))
    assert_allclose(model.predict_proba(X), reference, atol=1e-6)


def test_multi_label_chunked_probabilities_equal_scikit_learn(
    features: sp.csr_matrix, topics: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(estimators, "PREDICT_CHUNK_ROWS", 10)
    model = LabelModel(4, multi_label=True).fit(features, _multi_label_targets(topics))
    proba = model.predict_proba(features)
    active = features[:, model.active_features_]
    for j in (0, 1):
        assert_allclose(proba[:, j], model.estimators_[j].predict_proba(active)[:, 1], atol=1e-6)


def test_warm_start_reaches_the_same_model_in_fewer_epochs(
    features: sp.csr_matrix, topics: np.ndarray
) -> None:
    first = LabelModel(3, tol=1e-6, max_iter=5000).fit(features[::2], topics[::2])
    cold = LabelModel(3, tol=1e-6, max_iter=5000).fit(features, topics)
    warm = LabelModel(3, tol=1e-6, max_iter=5000).fit(features, topics, warm_from=first)
    assert warm.estimator_.n_iter_[0] < cold.estimator_.n_iter_[0]
    assert_allclose(warm.predict_proba(features), cold.predict_proba(features), atol=1e-3)


def test_warm_start_ignores_an_incompatible_model(
    features: sp.csr_matrix, topics: np.ndarray
) -> None:
    two_labels = LabelModel(3).fit(features[topics < 2], topics[topics < 2])
    narrower = LabelModel(3).fit(features[:, :5].toarray() + 1.0, topics)
    reference = LabelModel(3).fit(features, topics)
    for previous in (two_labels, narrower, LabelModel(3, multi_label=True)):
        model = LabelModel(3).fit(features, topics, warm_from=previous)
        assert_array_equal(model.estimator_.coef_, reference.estimator_.coef_)


def test_pickles_leave_the_prediction_cache_out(
    features: sp.csr_matrix, topics: np.ndarray
) -> None:
    model = LabelModel(3).fit(features, topics)
    model.predict_proba(features)  # builds the full-width coefficients
    assert "_wide" not in pickle.loads(pickle.dumps(model)).__dict__
