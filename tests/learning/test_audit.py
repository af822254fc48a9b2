"""audit_metrics: accuracy with a Wilson interval, macro-F1 with a bootstrap interval."""

import math

import numpy as np
import pytest
from sklearn.metrics import f1_score

from app.learning.audit import MIN_INTERVAL_N, audit_metrics

Z = 1.959963984540054  # the 97.5 % point of the standard normal


def _wilson(correct: int, n: int) -> tuple[float, float]:
    """Wilson's score interval written out: Wilson (1927), "Probable inference, the law of
    succession, and statistical inference", JASA 22(158), 209-212; the form of Brown, Cai &
    DasGupta (2001), "Interval Estimation for a Binomial Proportion", Statistical Science
    16(2), eq. (4): centre (p + z^2/2n) / (1 + z^2/n), half-width
    z / (1 + z^2/n) * sqrt(p(1-p)/n + z^2/4n^2)."""
    p = correct / n
    scale = 1 + Z**2 / n
    centre = (p + Z**2 / (2 * n)) / scale
    half = Z / scale * math.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2))
    return centre - half, centre + half


def test_accuracy_interval_is_wilsons_score_interval() -> None:
    y_true = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    y_pred = y_true.copy()
    y_pred[[1, 5]] = 0  # 8 of 10 right
    result = audit_metrics(y_true, y_pred)
    assert result is not None
    assert result.n == 10
    assert result.accuracy == pytest.approx(0.8)
    # 8/10 by hand: centre 0.99207/1.38415 = 0.71674, half-width 0.22657.
    assert (result.accuracy_low, result.accuracy_high) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    assert (result.accuracy_low, result.accuracy_high) == pytest.approx(_wilson(8, 10))


def test_macro_f1_averages_the_labels_present_in_the_truth() -> None:
    y_true = np.array([0, 0, 1, 1, 2])
    y_pred = np.array([0, 1, 1, 1, 3])  # label 3 is predicted but never true
    result = audit_metrics(y_true, y_pred)
    assert result is not None
    # F1 per true label: 0 -> 2*1/(2+1) = 2/3, 1 -> 2*2/(2+3) = 0.8, 2 -> 0.
    assert result.macro_f1 == pytest.approx((2 / 3 + 0.8 + 0.0) / 3)
    assert result.accuracy == pytest.approx(3 / 5)


def test_macro_f1_matches_scikit_learn_on_random_predictions() -> None:
    rng = np.random.default_rng(1)
    y_true = rng.integers(0, 7, size=200)
    y_pred = np.where(rng.random(200) < 0.6, y_true, rng.integers(0, 9, size=200))
    result = audit_metrics(y_true, y_pred)
    assert result is not None
    expected = f1_score(y_true, y_pred, labels=np.unique(y_true), average="macro", zero_division=0)
    assert result.macro_f1 == pytest.approx(expected)
    assert result.macro_f1_low < result.macro_f1 < result.macro_f1_high
    assert result.macro_f1_low >= 0.0 and result.macro_f1_high <= 1.0


def test_bootstrap_interval_is_seeded_and_narrows_with_more_rows() -> None:
    rng = np.random.default_rng(2)
    y_true = rng.integers(0, 4, size=2000)
    y_pred = np.where(rng.random(2000) < 0.7, y_true, rng.integers(0, 4, size=2000))
    small = audit_metrics(y_true[:100], y_pred[:100], seed=3)
    again = audit_metrics(y_true[:100], y_pred[:100], seed=3)
    large = audit_metrics(y_true, y_pred, seed=3)
    assert small is not None and large is not None
    assert small == again
    small_width = small.macro_f1_high - small.macro_f1_low
    large_width = large.macro_f1_high - large.macro_f1_low
    assert large_width < small_width / 3  # about sqrt(20) = 4.5 times narrower


def test_perfect_predictions_have_no_f1_interval_but_a_wilson_one() -> None:
    y = np.tile([0, 1, 2], 10)  # 30 rows: enough for an interval, but every resample is 1.0
    result = audit_metrics(y, y)
    assert result is not None
    assert (result.accuracy, result.macro_f1) == (1.0, 1.0)
    assert (result.macro_f1_low, result.macro_f1_high) == (None, None)
    assert result.accuracy_high == pytest.approx(1.0)
    assert result.accuracy_low == pytest.approx(_wilson(30, 30)[0])


@pytest.mark.parametrize("n", [1, 5, MIN_INTERVAL_N - 1])
def test_too_few_rows_have_no_f1_interval(n: int) -> None:
    rng = np.random.default_rng(n)
    y_true = rng.integers(0, 3, size=n)
    y_pred = np.where(rng.random(n) < 0.5, y_true, (y_true + 1) % 3)
    result = audit_metrics(y_true, y_pred)
    assert result is not None
    assert (result.macro_f1_low, result.macro_f1_high) == (None, None)
    assert result.accuracy_low < result.accuracy_high  # Wilson's stays, wide


def test_enough_mixed_rows_have_an_f1_interval() -> None:
    y_true = np.tile([0, 1, 2], 4)[:MIN_INTERVAL_N]
    y_pred = y_true.copy()
    y_pred[:3] = (y_pred[:3] + 1) % 3
    result = audit_metrics(y_true, y_pred)
    assert result is not None and result.macro_f1_low is not None
    assert result.macro_f1_high is not None
    assert result.macro_f1_low < result.macro_f1 < result.macro_f1_high


def test_multi_label_uses_subset_accuracy_and_per_label_f1() -> None:
    y_true = np.array([[1, 0], [1, 1], [0, 1]])
    y_pred = np.array([[1, 0], [1, 0], [0, 1]])
    result = audit_metrics(y_true, y_pred)
    assert result is not None
    assert result.accuracy == pytest.approx(2 / 3)
    # Label 0: tp 2, true 2, predicted 2 -> 1; label 1: tp 1, true 2, predicted 1 -> 2/3.
    assert result.macro_f1 == pytest.approx((1 + 2 / 3) / 2)
    assert (result.accuracy_low, result.accuracy_high) == pytest.approx(_wilson(2, 3))


def test_empty_sample_has_no_figures() -> None:
    assert audit_metrics(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)) is None


def test_mismatched_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="shapes differ"):
        audit_metrics(np.array([0, 1]), np.array([0, 1, 1]))


def test_as_dict_holds_every_figure_as_a_float() -> None:
    y_true = np.tile([0, 1], 10)
    result = audit_metrics(y_true, np.where(np.arange(20) < 3, 1 - y_true, y_true))
    assert result is not None
    figures = result.as_dict()
    assert set(figures) == {
        "n",
        "accuracy",
        "accuracy_low",
        "accuracy_high",
        "macro_f1",
        "macro_f1_low",
        "macro_f1_high",
    }
    assert figures["n"] == 20.0 and all(isinstance(v, float) for v in figures.values())


def test_as_dict_leaves_out_a_missing_interval() -> None:
    result = audit_metrics(np.array([0, 1, 1]), np.array([0, 1, 0]))
    assert result is not None
    assert set(result.as_dict()) == {"n", "accuracy", "accuracy_low", "accuracy_high", "macro_f1"}
