"""cross_validated_metrics and cross_validate: out-of-fold quality and probabilities."""

import numpy as np
import pytest
import scipy.sparse as sp

from app.learning.estimators import LabelModel
from app.learning.metrics import cross_validate, cross_validated_metrics


def _blobs(n_per_label: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Dense (3 * n_per_label, 3) well-separated Gaussian clusters and their (n,) labels."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), n_per_label)
    return 4.0 * np.eye(3)[y] + rng.normal(scale=0.5, size=(y.size, 3)), y


class CountingFactory:
    """make_model that counts how many models the cross-validation trained."""

    def __init__(self, n_labels: int, *, multi_label: bool = False) -> None:
        self.n_labels, self.multi_label, self.calls = n_labels, multi_label, 0

    def __call__(self) -> LabelModel:
        self.calls += 1
        return LabelModel(self.n_labels, multi_label=self.multi_label)


def test_separable_clusters_score_near_perfect() -> None:
    X, y = _blobs()
    make_model = CountingFactory(3)
    result = cross_validated_metrics(X, y, make_model)
    assert result is not None
    assert set(result) == {"accuracy", "macro_f1"}
    assert all(isinstance(value, float) for value in result.values())
    assert result["accuracy"] >= 0.95
    assert result["macro_f1"] >= 0.95
    assert make_model.calls == 5


def test_topic_corpus_scores_well_above_chance(features: sp.csr_matrix, topics: np.ndarray) -> None:
    result = cross_validated_metrics(features, topics, CountingFactory(3))
    assert result is not None
    assert result["accuracy"] >= 0.65  # chance is 1/3; 36 short training sentences per fold
    assert result["macro_f1"] >= 0.65


def test_random_labels_score_near_chance(features: sp.csr_matrix) -> None:
    shuffled = np.random.default_rng(0).permutation(np.repeat(np.arange(3), 15))
    result = cross_validated_metrics(features, shuffled, CountingFactory(3))
    assert result is not None
    assert result["accuracy"] < 0.6


def test_is_deterministic(features: sp.csr_matrix, topics: np.ndarray) -> None:
    first = cross_validated_metrics(features, topics, CountingFactory(3), random_state=3)
    second = cross_validated_metrics(features, topics, CountingFactory(3), random_state=3)
    assert first == second


def test_unused_labels_do_not_lower_macro_f1(features: sp.csr_matrix, topics: np.ndarray) -> None:
    in_three = cross_validated_metrics(features, topics, CountingFactory(3))
    in_ten = cross_validated_metrics(features, topics, CountingFactory(10))
    assert in_three == in_ten


@pytest.mark.parametrize("n_rows", [0, 1, 3])
def test_fewer_than_four_rows_gives_none(
    features: sp.csr_matrix, topics: np.ndarray, n_rows: int
) -> None:
    rows = np.array([0, 15, 30])[:n_rows]
    assert cross_validated_metrics(features[rows], topics[rows], CountingFactory(3)) is None


def test_a_single_label_gives_none(features: sp.csr_matrix) -> None:
    assert cross_validated_metrics(features[:10], np.zeros(10, int), CountingFactory(3)) is None


def test_a_one_label_training_fold_predicts_that_label(features: sp.csr_matrix) -> None:
    rows = np.array([0, 1, 2, 30])
    make_model = CountingFactory(3)
    result = cross_validated_metrics(features[rows], np.array([0, 0, 0, 2]), make_model)
    assert result is not None
    assert make_model.calls == 3  # the fold holding out the only "2" trains nothing
    assert result["accuracy"] <= 0.75


def test_folds_are_capped_at_the_number_of_rows(
    features: sp.csr_matrix, topics: np.ndarray
) -> None:
    rows = np.array([0, 1, 15, 16, 30])
    make_model = CountingFactory(3)
    result = cross_validated_metrics(features[rows], topics[rows], make_model, n_splits=10)
    assert result is not None
    assert make_model.calls == 5


def test_rejects_fewer_than_two_splits(features: sp.csr_matrix, topics: np.ndarray) -> None:
    with pytest.raises(ValueError, match="n_splits"):
        cross_validated_metrics(features, topics, CountingFactory(3), n_splits=1)


def test_multi_label_scores_near_perfect_on_separable_clusters() -> None:
    X, y = _blobs()
    Y = np.column_stack([y == 0, y == 1, y != 2]).astype(np.int8)  # rows carry 0, 1 or 2 labels
    result = cross_validated_metrics(X, Y, CountingFactory(3, multi_label=True))
    assert result is not None
    assert result["accuracy"] >= 0.95  # subset accuracy: every column of a row right
    assert result["macro_f1"] >= 0.95


def test_multi_label_ignores_never_used_label_columns() -> None:
    X, y = _blobs()
    Y = np.eye(3, dtype=np.int8)[y]
    result = cross_validated_metrics(X, Y, CountingFactory(3, multi_label=True))
    padded = np.column_stack([Y, np.zeros(len(Y), np.int8)])
    assert result is not None and result["macro_f1"] >= 0.95
    assert cross_validated_metrics(X, padded, CountingFactory(4, multi_label=True)) == result


def test_multi_label_without_any_positive_gives_none(features: sp.csr_matrix) -> None:
    Y = np.zeros((10, 2), np.int8)
    assert cross_validated_metrics(features[:10], Y, CountingFactory(2, multi_label=True)) is None


def test_cross_validate_yields_the_metrics_and_out_of_fold_probabilities_from_one_pass(
    features: sp.csr_matrix, topics: np.ndarray
) -> None:
    make_model = CountingFactory(4)
    result = cross_validate(features, topics, make_model)
    assert result is not None
    assert make_model.calls == 5  # one model per fold, shared by metrics and probabilities
    assert result.metrics == cross_validated_metrics(features, topics, CountingFactory(4))
    assert result.proba.shape == (topics.size, 4)
    np.testing.assert_allclose(result.proba.sum(axis=1), 1.0)
    assert np.all(result.proba[:, 3] == 0.0)  # a label never given gets no probability
    accuracy = (result.proba.argmax(axis=1) == topics).mean()
    assert accuracy == pytest.approx(result.metrics["accuracy"])


def test_out_of_fold_probabilities_come_from_models_not_trained_on_the_row() -> None:
    X, y = _blobs()
    y = y.copy()
    y[0] = 2  # a row of cluster 0 labelled 2: in-sample it would get a high probability of 2
    result = cross_validate(X, y, CountingFactory(3))
    assert result is not None
    assert result.proba[0].argmax() == 0
    assert result.proba[0, 2] < 0.2


def test_a_one_label_training_fold_gives_that_label_probability_one(
    features: sp.csr_matrix,
) -> None:
    rows = np.array([0, 1, 2, 30])
    result = cross_validate(features[rows], np.array([0, 0, 0, 2]), CountingFactory(3))
    assert result is not None
    assert result.proba[3].tolist() == [1.0, 0.0, 0.0]  # held out the only "2"


def test_multi_label_out_of_fold_probabilities_are_per_label() -> None:
    X, y = _blobs()
    Y = np.column_stack([y == 0, y == 1, y != 2]).astype(np.int8)
    result = cross_validate(X, Y, CountingFactory(3, multi_label=True))
    assert result is not None
    assert result.proba.shape == Y.shape
    assert ((result.proba >= 0.5) == Y.astype(bool)).mean() >= 0.95


def test_cross_validate_gives_none_where_the_metrics_do(features: sp.csr_matrix) -> None:
    assert cross_validate(features[:10], np.zeros(10, int), CountingFactory(3)) is None
