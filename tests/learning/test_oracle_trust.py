"""oracle_trust: the Wilson interval, the oracle's measured accuracy, the machine-label route,
its gate, and the oracle's vote in the ranking."""

import numpy as np
import pytest
from scipy.stats import binomtest

from app.learning.oracle_trust import (
    MIN_ROUTE_SAMPLE,
    agreement_metrics,
    disagreement_scores,
    gate_open,
    route_mask,
    wilson_interval,
)

# Newcombe (1998), "Two-sided confidence intervals for the single proportion", Statistics in
# Medicine 17:857-872, Table I, method 3 (Wilson score, no continuity correction).
NEWCOMBE = [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0, 0.1611),
    (1, 29, 0.0061, 0.1718),
]


@pytest.mark.parametrize(("successes", "n", "low", "high"), NEWCOMBE)
def test_wilson_matches_newcombes_worked_examples(
    successes: int, n: int, low: float, high: float
) -> None:
    assert wilson_interval(successes, n) == pytest.approx((low, high), abs=5e-5)


@pytest.mark.parametrize(("successes", "n"), [(81, 263), (45, 100), (29, 30), (30, 30), (0, 7)])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_wilson_matches_scipy(successes: int, n: int, confidence: float) -> None:
    expected = binomtest(successes, n).proportion_ci(confidence_level=confidence, method="wilson")
    found = wilson_interval(successes, n, confidence)
    assert found == pytest.approx((expected.low, expected.high), abs=1e-12)


def test_wilson_of_nothing_is_the_whole_range() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_wilson_interval_ends_are_exact_at_all_or_none_right() -> None:
    assert wilson_interval(30, 30)[1] == 1.0
    assert wilson_interval(0, 30)[0] == 0.0


@pytest.mark.parametrize(
    ("successes", "n", "confidence"), [(3, 2, 0.95), (-1, 5, 0.95), (1, 2, 1.0)]
)
def test_wilson_refuses_impossible_counts(successes: int, n: int, confidence: float) -> None:
    with pytest.raises(ValueError):
        wilson_interval(successes, n, confidence)


def test_agreement_metrics_of_a_known_sample() -> None:
    human = ["card", "card", "loan", "loan", "fx", "fx", "fx", "card"]
    oracle = ["card", "loan", "loan", "loan", "fx", "card", "fx", "card"]
    found = agreement_metrics(oracle, human, ["card", "loan", "fx", "unused"])
    assert found.n == 8
    assert found.accuracy == 6 / 8
    assert (found.accuracy_low, found.accuracy_high) == wilson_interval(6, 8)
    # card: P 2/3 R 2/3; loan: P 2/3 R 1; fx: P 1 R 2/3 -> F1 2/3, 0.8, 0.8; "unused" not counted
    assert found.macro_f1 == pytest.approx((2 / 3 + 0.8 + 0.8) / 3)


def test_agreement_metrics_leave_out_labels_only_the_oracle_gave() -> None:
    found = agreement_metrics(["a", "b", "c"], ["a", "b", "b"], ["a", "b", "c"])
    # a: F1 1; b: P 1 R 1/2 -> 2/3; "c" was never a person's label
    assert found.macro_f1 == pytest.approx((1 + 2 / 3) / 2)


def test_agreement_metrics_without_items_are_none() -> None:
    found = agreement_metrics([], [], ["a", "b"])
    assert found.n == 0
    assert found.accuracy is found.accuracy_low is found.accuracy_high is found.macro_f1 is None


def test_agreement_metrics_refuse_unpaired_answers() -> None:
    with pytest.raises(ValueError):
        agreement_metrics(["a"], ["a", "b"], ["a", "b"])


PROBA = np.array(
    [
        [0.95, 0.05, 0.0],  # sure of 0
        [0.95, 0.05, 0.0],  # sure of 0
        [0.6, 0.3, 0.1],  # unsure of 0
        [0.05, 0.0, 0.95],  # sure of 2
        [0.9, 0.1, 0.0],  # exactly at the threshold
    ]
)


def test_route_holds_where_oracle_and_sure_classifier_agree() -> None:
    oracle = np.array([0, 1, 0, -1, 0])
    assert route_mask(oracle, PROBA, 0.9).tolist() == [True, False, False, False, True]


def test_route_threshold_bounds_the_classifiers_confidence() -> None:
    oracle = np.array([0, 0, 0, 2, 0])
    assert route_mask(oracle, PROBA, 0.5).tolist() == [True, True, True, True, True]
    assert route_mask(oracle, PROBA, 0.99).tolist() == [False] * 5


def test_route_of_an_empty_pool_is_empty() -> None:
    assert route_mask(np.zeros(0, dtype=np.int64), np.zeros((0, 3)), 0.9).shape == (0,)


@pytest.mark.parametrize(
    "oracle", [np.array([0, 1]), np.array([0, 0, 0, 3, 0]), np.array([0.0, 0, 0, 0, 0])]
)
def test_route_refuses_answers_that_do_not_fit_the_probabilities(oracle: np.ndarray) -> None:
    with pytest.raises(ValueError):
        route_mask(oracle, PROBA, 0.9)


def test_gate_opens_only_when_the_lower_bound_beats_the_target() -> None:
    # 100 of 100: lower bound 0.963; 95 of 100: 0.888; 98 of 100: 0.930
    assert gate_open(100, 100, 0.95)
    assert not gate_open(95, 100, 0.9)
    assert gate_open(98, 100, 0.9)
    assert not gate_open(98, 100, 0.93)


def test_gate_stays_shut_without_a_sample() -> None:
    assert not gate_open(0, 0, 0.0)
    # 10 of 10 has a lower bound of 0.72, above a 0.5 target, but the sample is too small
    assert wilson_interval(10, 10)[0] > 0.5
    assert not gate_open(10, 10, 0.5)
    assert gate_open(MIN_ROUTE_SAMPLE, MIN_ROUTE_SAMPLE, 0.5)
    assert gate_open(10, 10, 0.5, min_n=1)


def test_disagreements_rank_first_in_the_strategys_order() -> None:
    scores = np.array([0.5, 0.1, 0.9, 0.3, 0.7])
    oracle = np.array([0, 1, 0, 2, 2])  # differs from the argmax at rows 1 and 4
    out = disagreement_scores(scores, oracle, PROBA)
    order = np.argsort(-out, kind="stable")
    assert order.tolist() == [4, 1, 2, 0, 3]
    assert out[[0, 2, 3]].tolist() == scores[[0, 2, 3]].tolist()


def test_items_without_an_answer_keep_their_score() -> None:
    scores = np.array([-0.2, -0.9, -0.5, -0.1, -0.4])
    out = disagreement_scores(scores, np.full(5, -1), PROBA)
    assert out.tolist() == scores.tolist()
    assert out is not scores


def test_disagreement_lifts_past_equal_and_negative_scores() -> None:
    scores = np.zeros(5)
    out = disagreement_scores(scores, np.array([1, 0, 0, 2, 0]), PROBA)
    assert out[0] > out[1:].max()
    assert np.all(np.isfinite(out))


def test_disagreement_refuses_scores_that_do_not_fit() -> None:
    with pytest.raises(ValueError):
        disagreement_scores(np.zeros(4), np.zeros(5, dtype=np.int64), PROBA)
    with pytest.raises(ValueError):
        disagreement_scores(np.array([0, 0, np.nan, 0, 0]), np.zeros(5, dtype=np.int64), PROBA)
