"""rank_label_issues: flipped labels come first; degenerate inputs give no issues, not errors."""

import numpy as np
import pytest

from app.learning.estimators import LabelModel
from app.learning.label_issues import given_label_probability, rank_label_issues, suggested
from app.learning.metrics import cross_validate


def _flipped_blobs(n_per_label: int = 40, n_flipped: int = 12) -> tuple[np.ndarray, ...]:
    """(n, 4) four separated Gaussian clusters, true (n,) labels, labels with n_flipped
    moved to another class, and the flipped rows."""
    rng = np.random.default_rng(1)
    true = np.repeat(np.arange(4), n_per_label)
    X = 4.0 * np.eye(4)[true] + rng.normal(scale=0.6, size=(true.size, 4))
    flipped = rng.choice(true.size, n_flipped, replace=False)
    given = true.copy()
    given[flipped] = (true[flipped] + rng.integers(1, 4, n_flipped)) % 4
    return X, true, given, flipped


def test_flipped_labels_are_ranked_first_from_out_of_fold_probabilities() -> None:
    X, _, given, flipped = _flipped_blobs()
    cv = cross_validate(X, given, lambda: LabelModel(4))
    assert cv is not None
    found = rank_label_issues(cv.proba, given)
    top = found.indices[: flipped.size]
    assert np.isin(top, flipped).mean() >= 0.9
    assert np.isin(flipped, found.indices).mean() >= 0.9
    assert found.indices.size <= 2 * flipped.size  # clean rows are mostly left alone


def test_scores_are_the_given_labels_probability_in_ascending_order() -> None:
    X, _, given, _ = _flipped_blobs()
    cv = cross_validate(X, given, lambda: LabelModel(4))
    assert cv is not None
    found = rank_label_issues(cv.proba, given)
    assert found.indices.dtype == np.int64 and found.scores.shape == found.indices.shape
    np.testing.assert_allclose(found.scores, cv.proba[found.indices, given[found.indices]])
    assert np.all(np.diff(found.scores) >= 0)


def test_clean_labels_flag_little() -> None:
    X, true, _, _ = _flipped_blobs()
    cv = cross_validate(X, true, lambda: LabelModel(4))
    assert cv is not None
    assert rank_label_issues(cv.proba, true).indices.size <= 3


def test_multi_label_finds_a_dropped_label() -> None:
    X, true, _, _ = _flipped_blobs()
    Y = np.eye(4, dtype=np.int8)[true]
    wrong = np.array([3, 50, 90, 130])
    Y[wrong] = 0  # each of these rows lost its only label
    cv = cross_validate(X, Y, lambda: LabelModel(4, multi_label=True))
    assert cv is not None
    found = rank_label_issues(cv.proba, Y)
    assert set(wrong) <= set(found.indices[:8].tolist())
    np.testing.assert_allclose(found.scores, given_label_probability(cv.proba, Y)[found.indices])


@pytest.mark.parametrize("n", [0, 1, 3])
def test_fewer_than_four_rows_give_no_issues(n: int) -> None:
    proba = np.full((n, 2), 0.5)
    assert rank_label_issues(proba, np.arange(n) % 2).indices.size == 0


def test_a_single_class_gives_no_issues() -> None:
    proba = np.tile([0.1, 0.9], (10, 1))
    assert rank_label_issues(proba, np.zeros(10, dtype=np.int64)).indices.size == 0


def test_tiny_classes_and_unused_labels_do_not_crash() -> None:
    y = np.array([0, 0, 0, 0, 0, 1, 2])  # classes of one row; label 3 never given
    proba = np.zeros((7, 4))
    proba[np.arange(7), [0, 0, 0, 0, 1, 0, 0]] = 1.0
    found = rank_label_issues(proba, y)
    assert set(found.indices.tolist()) <= set(range(7))
    assert np.all((found.scores >= 0) & (found.scores <= 1))


def test_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="do not match"):
        rank_label_issues(np.full((5, 2), 0.5), np.zeros(4, dtype=np.int64))


def test_suggested_is_the_argmax_or_the_labels_over_one_half() -> None:
    proba = np.array([[0.2, 0.7, 0.6], [0.1, 0.2, 0.3]])
    assert suggested(proba, multi_label=False) == [[1], [2]]
    assert suggested(proba, multi_label=True) == [[1, 2], []]
