"""Agreement coefficients: published worked examples, and the bootstrap's closed forms against
the libraries they stand in for."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa

from app.learning.agreement import (
    MISSING,
    agreement,
    alpha_weighted,
    cohen_weighted,
    counts_of,
    fleiss_weighted,
)
from app.learning.annotators import consensus_agreement, matches, others_majority, pace

_ = MISSING

# Wikipedia, "Fleiss' kappa", section "Worked example" (10 subjects, 14 raters, 5 categories):
# rows are subjects, columns how many raters chose each category; kappa = 0.210.
FLEISS_WIKIPEDIA = np.array(
    [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
)

# Krippendorff, K. (2011). "Computing Krippendorff's Alpha-Reliability". Annenberg School for
# Communication, University of Pennsylvania, section C: nominal data, 4 observers, 12 units,
# missing values; alpha = 0.743. Values 1..5 as category indices 0..4, rows are observers.
KRIPPENDORFF_C = np.array(
    [
        [0, 1, 2, 2, 1, 0, 3, 0, 1, _, _, _],
        [0, 1, 2, 2, 1, 1, 3, 0, 1, 4, _, 2],
        [_, 2, 2, 2, 1, 2, 3, 1, 1, 4, 0, _],
        [0, 1, 2, 2, 1, 3, 3, 0, 1, 4, 0, _],
    ]
)

# Same paper, section A: binary data, two observers, 10 units, no missing values; alpha = 0.095.
KRIPPENDORFF_A = np.array(
    [
        [0, 1, 0, 0, 0, 0, 0, 0, 1, 0],
        [1, 1, 1, 0, 0, 1, 0, 0, 0, 0],
    ]
)


def _cohen_wikipedia() -> tuple[np.ndarray, np.ndarray]:
    """Wikipedia, "Cohen's kappa", section "Simple example": 50 grant proposals read by A and B;
    both yes 20, A yes B no 5, A no B yes 10, both no 15; p_o = 0.7, p_e = 0.5, kappa = 0.4."""
    a = np.array([1] * 20 + [1] * 5 + [0] * 10 + [0] * 15)
    b = np.array([1] * 20 + [0] * 5 + [1] * 10 + [0] * 15)
    return a, b


def test_cohen_kappa_reproduces_the_wikipedia_proposals_example() -> None:
    a, b = _cohen_wikipedia()
    result = agreement(np.stack([a, b], axis=1), 2, n_resamples=0)
    assert result.cohen.value == pytest.approx(0.4)
    assert result.cohen.n == 50
    assert [(p.rater_a, p.rater_b, p.n) for p in result.pairs] == [(0, 1, 50)]


def test_fleiss_kappa_reproduces_the_wikipedia_worked_example() -> None:
    assert fleiss_kappa(FLEISS_WIKIPEDIA) == pytest.approx(0.2099, abs=5e-5)
    # The same table as 14 raters' codes per subject, through the module.
    codes = np.array([np.repeat(np.arange(5), row) for row in FLEISS_WIKIPEDIA])
    result = agreement(codes, 5, n_resamples=0)
    assert round(result.fleiss.value or 0, 3) == 0.210
    assert result.fleiss.n == 10


def test_alpha_reproduces_krippendorff_2011_nominal_example_with_missing_values() -> None:
    result = agreement(KRIPPENDORFF_C.T, 5, n_resamples=0)
    assert round(result.alpha.value or 0, 3) == 0.743
    assert result.alpha.n == 11  # unit 12 has a single value and is left out, as in the paper


def test_alpha_reproduces_krippendorff_2011_binary_example() -> None:
    result = agreement(KRIPPENDORFF_A.T, 2, n_resamples=0)
    assert round(result.alpha.value or 0, 3) == 0.095


def _random_ratings(seed: int, n: int = 60, raters: int = 4, k: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n)
    codes = np.where(rng.random((n, raters)) < 0.7, truth[:, None], rng.integers(0, k, (n, raters)))
    return np.where(rng.random((n, raters)) < 0.2, MISSING, codes)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bootstrap_closed_forms_equal_the_libraries_on_a_resample(seed: int) -> None:
    codes = _random_ratings(seed)
    codes = codes[(codes != MISSING).sum(axis=1) >= 2]
    w = np.random.default_rng(seed).multinomial(len(codes), np.full(len(codes), 1 / len(codes)))
    repeated = np.repeat(codes, w, axis=0)  # the resample, written out
    counts = counts_of(codes, 3)
    assert alpha_weighted(counts, w[None])[0] == pytest.approx(
        krippendorff.alpha(value_counts=counts_of(repeated, 3), level_of_measurement="nominal")
    )
    both = (codes[:, 0] != MISSING) & (codes[:, 1] != MISSING)
    a, b = codes[both, 0], codes[both, 1]
    expected = cohen_kappa_score(np.repeat(a, w[both]), np.repeat(b, w[both]))
    assert cohen_weighted(a, b, 3, w[None, both])[0] == pytest.approx(expected)
    full = counts.sum(axis=1) == 4
    table = counts[full]
    assert fleiss_weighted(table, w[None, full])[0] == pytest.approx(
        fleiss_kappa(np.repeat(table, w[full], axis=0))
    )


def test_interval_brackets_the_value_and_is_seeded() -> None:
    codes = _random_ratings(7, n=200)
    first, again = agreement(codes, 3), agreement(codes, 3)
    assert first == again
    for estimate in (first.cohen, first.fleiss, first.alpha):
        assert estimate.low is not None and estimate.high is not None
        assert estimate.low <= (estimate.value or 0) <= estimate.high
        assert estimate.high - estimate.low < 0.3


def test_units_with_one_label_give_no_figures() -> None:
    codes = np.array([[0, MISSING], [MISSING, 1], [1, MISSING]])
    result = agreement(codes, 2)
    assert (result.cohen.value, result.fleiss.value, result.alpha.value) == (None, None, None)
    assert (result.cohen.n, result.fleiss.n, result.alpha.n) == (0, 0, 0)
    assert result.pairs == []


def test_clusters_count_items_not_units() -> None:
    # Two items of a 3-label multi-label project, one present/absent unit per label.
    codes = np.array([[1, 1], [0, 0], [0, 1], [1, 1], [0, 0], [0, 0]])
    result = agreement(codes, 2, clusters=np.repeat([10, 20], 3), n_resamples=50)
    assert result.alpha.n == result.cohen.n == 2


def test_consensus_is_the_strict_majority_of_the_others() -> None:
    codes = np.array([[0, 0, 0], [0, 1, 1], [0, 1, 2], [MISSING, 1, 1]])
    assert others_majority(codes, 0, 3).tolist() == [0, 1, MISSING, 1]
    shares = consensus_agreement(codes, 3)
    assert (shares[0].value, shares[0].n) == (0.5, 2)  # unit 3 is a tie, unit 4 unlabelled
    assert matches(np.array([0, 1]), np.array([MISSING, MISSING])).value is None


def test_pace_leaves_breaks_out_of_labels_per_hour() -> None:
    # Labels 10 s apart, a one-hour break, then two more 20 s apart.
    result = pace(np.array([0, 10, 20, 3620, 3640, 3660]))
    assert result.labels_per_hour == pytest.approx(4 * 3600 / 60)
    assert result.median_seconds == 20
    assert pace(np.array([5.0])).labels_per_hour is None


def test_labels_sent_in_bulk_have_no_rate() -> None:
    bulk = pace(np.arange(50) * 0.001)  # 50 labels a millisecond apart: no person's pace
    assert bulk.labels_per_hour is None and bulk.median_seconds == pytest.approx(0.001)


def test_overall_cohen_weights_each_pair_by_the_units_it_shares() -> None:
    # Raters 0 and 1 agree on 20 items; rater 2 shares one item with rater 0, and disagrees.
    agreed = np.array([[k % 3, k % 3, MISSING] for k in range(20)])
    codes = np.vstack([agreed, [[0, MISSING, 1]]])
    result = agreement(codes, 3, n_resamples=200)
    assert [(p.rater_a, p.rater_b, p.n, p.kappa) for p in result.pairs] == [
        (0, 1, 20, pytest.approx(1.0)),
        (0, 2, 1, pytest.approx(0.0)),
    ]
    assert result.cohen.value == pytest.approx(20 / 21)  # not the plain mean, 0.5
    assert result.cohen.low is not None and result.cohen.high is not None
    assert result.cohen.low <= 20 / 21 <= result.cohen.high
