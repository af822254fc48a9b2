"""How far a second oracle (a language model, a knowledge source) may be trusted: its accuracy
against people's labels with a Wilson interval, the machine-label route and the gate that opens
it only on a measured lower bound, and the oracle's vote in the ranking.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# scipy and scikit-learn are imported where used: importing this module loads neither.

# The route's gate stays shut below this many measured items: a Wilson bound on a handful of
# items beats a low target by luck (10 right of 10 has a 95 % lower bound of 0.72).
MIN_ROUTE_SAMPLE = 30


@dataclass(frozen=True)
class OracleAccuracy:
    """The oracle measured on the n items people labelled too; None figures when n is 0."""

    n: int
    accuracy: float | None
    accuracy_low: float | None
    accuracy_high: float | None
    macro_f1: float | None


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion.

    Wilson rather than the normal approximation: the oracle's and the route's samples are small
    and their accuracies near 1, where the normal interval collapses to a point past 1.

    Args:
        successes: right answers, 0 <= successes <= n.
        n: answers measured.
        confidence: two-sided coverage, in (0, 1).

    Returns:
        (low, high) within [0, 1]; (0.0, 1.0) when n is 0 (nothing is known).
    """
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got {successes} of {n}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if n == 0:
        return 0.0, 1.0
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + confidence / 2))
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    low = 0.0 if successes == 0 else max(0.0, float(centre - half))
    high = 1.0 if successes == n else min(1.0, float(centre + half))
    return low, high


def agreement_metrics(
    oracle: Sequence[str], human: Sequence[str], labels: Sequence[str]
) -> OracleAccuracy:
    """The oracle's accuracy (with its Wilson interval) and macro-F1 against people's labels.

    Macro-F1 is over the labels of `labels` that people gave, as the audit sample's is
    (`app.learning.audit`): a label the oracle alone uses costs the recall of the true ones
    without adding a class of its own.

    Args:
        oracle: (n,) the oracle's answers.
        human: (n,) people's labels of the same items, taken as the truth.
        labels: the project's label set.

    Returns:
        OracleAccuracy; every figure None when n is 0.
    """
    if len(oracle) != len(human):
        raise ValueError(f"{len(oracle)} oracle answers for {len(human)} human labels")
    n = len(human)
    if n == 0:
        return OracleAccuracy(0, None, None, None, None)
    right = sum(a == b for a, b in zip(oracle, human, strict=True))
    low, high = wilson_interval(right, n)
    given = set(human)
    present = [label for label in labels if label in given]
    from sklearn.metrics import f1_score

    f1 = f1_score(list(human), list(oracle), labels=present, average="macro", zero_division=0)
    return OracleAccuracy(n, right / n, low, high, float(f1))


def route_mask(
    oracle_idx: np.ndarray, classifier_proba: np.ndarray, threshold: float
) -> np.ndarray:
    """The machine-label route: the oracle answered, the classifier agrees, at least
    `threshold` sure. Two independent judges agreeing is what makes a machine label worth
    measuring; either alone is known to be wrong too often.

    Args:
        oracle_idx: (n,) int label index of the oracle's answer, -1 where it gave none.
        classifier_proba: (n, k) the classifier's probabilities.
        threshold: least max-probability of the classifier.

    Returns:
        (n,) bool, True for items in the route.
    """
    oracle_idx, proba = _checked(oracle_idx, classifier_proba)
    if proba.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    guess = np.argmax(proba, axis=1)
    sure = proba[np.arange(proba.shape[0]), guess] >= threshold
    result: np.ndarray = (oracle_idx >= 0) & (guess == oracle_idx) & sure
    return result


def gate_open(
    successes: int,
    n: int,
    target: float,
    confidence: float = 0.95,
    *,
    min_n: int = MIN_ROUTE_SAMPLE,
) -> bool:
    """Whether machine labels may stand: the route's accuracy, measured on `n` items people
    labelled too, has a Wilson lower bound above `target`. A point estimate would open the gate
    on luck; the bound opens it only once the sample shows the target is beaten.

    Args:
        successes: route items whose oracle answer matched people's label.
        n: route items people labelled; the gate stays shut below `min_n` (and at 0).
        target: accuracy the route must be shown to beat.
        confidence: coverage of the interval.
        min_n: least sample the gate trusts (`MIN_ROUTE_SAMPLE`).

    Returns:
        True when the gate is open.
    """
    if n == 0 or n < min_n:
        return False
    return wilson_interval(successes, n, confidence)[0] > target


def disagreement_scores(
    scores: np.ndarray, oracle_idx: np.ndarray, classifier_proba: np.ndarray
) -> np.ndarray:
    """The oracle's vote in the committee: items where it and the classifier disagree are the
    most informative (one of the two is wrong), so they rank above every other item.

    Higher = more informative, as in `app.learning.strategies`. Disagreeing items are lifted by
    more than the scores' range, which keeps the strategy's order within each group (float
    rounding may tie scores closer than the lift's precision, never swap them).

    Args:
        scores: (n,) finite strategy scores.
        oracle_idx: (n,) int label index of the oracle's answer, -1 where it gave none.
        classifier_proba: (n, k) the classifier's probabilities.

    Returns:
        float64 (n,) scores; items without an oracle answer keep theirs.
    """
    oracle_idx, proba = _checked(oracle_idx, classifier_proba)
    out = np.array(scores, dtype=np.float64, copy=True)
    if out.shape != oracle_idx.shape:
        raise ValueError(f"{out.shape[0]} scores for {oracle_idx.shape[0]} oracle answers")
    if not np.all(np.isfinite(out)):
        raise ValueError("scores must be finite")
    if out.size == 0:
        return out
    differ = (oracle_idx >= 0) & (oracle_idx != np.argmax(proba, axis=1))
    return first(out, differ)


def first(scores: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """(n,) float64 ``scores`` with the ``chosen`` items (a mask or indices) lifted above every
    other by more than the scores' range: they come first, each group in its own order."""
    out = np.array(scores, dtype=np.float64, copy=True)
    if out.size:
        out[chosen] += float(out.max() - out.min()) + 1.0
    return out


def _checked(oracle_idx: np.ndarray, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The answers as (n,) ints and the probabilities as (n, k), or ValueError."""
    answers = np.asarray(oracle_idx)
    proba = np.asarray(proba, dtype=np.float64)
    if answers.ndim != 1 or proba.ndim != 2 or answers.shape[0] != proba.shape[0]:
        raise ValueError(f"need (n,) answers and (n, k) proba, got {answers.shape}, {proba.shape}")
    if answers.size and not np.issubdtype(answers.dtype, np.integer):
        raise ValueError("oracle answers must be integer label indices (-1 for none)")
    if answers.size and answers.max() >= proba.shape[1]:
        raise ValueError(f"oracle answer {answers.max()} outside {proba.shape[1]} labels")
    return answers.astype(np.int64), proba
