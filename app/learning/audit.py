"""Honest accuracy: the model's accuracy and macro-F1 on a uniformly random audit sample that
was never trained on nor used to pick the queue, with 95 % intervals (Wilson for accuracy,
a seeded bootstrap percentile interval for macro-F1)."""

from dataclasses import asdict, dataclass

import numpy as np

# statsmodels is imported where used: importing this module (every web process does, at
# start) does not load it.

N_RESAMPLES = 1000
ALPHA = 0.05
# Below this many audit labels the macro-F1 gets no interval: a bootstrap of a handful of
# rows draws the same few rows over and over, and its percentiles collapse to a point (n = 5
# of a perfect model: 1.000-1.000) that looks precise and is not. Accuracy keeps its Wilson
# interval, which is honest (wide) at any n.
MIN_INTERVAL_N = 10


@dataclass(frozen=True)
class AuditMetrics:
    """The figures of one audit sample; ``*_low``/``*_high`` bound the 95 % interval (the
    macro-F1's is None when the sample is too small for one, see ``MIN_INTERVAL_N``)."""

    n: int
    accuracy: float
    accuracy_low: float
    accuracy_high: float
    macro_f1: float
    macro_f1_low: float | None = None
    macro_f1_high: float | None = None

    def as_dict(self) -> dict[str, float]:
        """The figures as floats, leaving out an interval there is none of."""
        return {key: float(value) for key, value in asdict(self).items() if value is not None}


def audit_metrics(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    *,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
) -> AuditMetrics | None:
    """Accuracy (subset accuracy if multi-label) with its Wilson interval, and macro-F1 over
    the labels present in ``y_true`` with a bootstrap percentile interval.

    Args:
        y_true: (n,) label indices, or (n, k) 0/1 indicators (multi-label).
        y_pred: the model's predictions, same shape as ``y_true``.
        n_resamples: bootstrap resamples of the n rows for the macro-F1 interval.
        seed: seed of the resampling.

    Returns:
        AuditMetrics, or None when the sample is empty.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"shapes differ: {y_true.shape} and {y_pred.shape}")
    n = y_true.shape[0]
    if n == 0:
        return None
    right = (y_true == y_pred) if y_true.ndim == 1 else (y_true == y_pred).all(axis=1)
    correct = int(right.sum())
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(correct, n, alpha=ALPHA, method="wilson")
    truth, guess = _indicators(y_true, y_pred)
    f1 = _macro_f1(np.ones((1, n)), truth, guess)[0]
    f1_low, f1_high = _f1_interval(truth, guess, n_resamples, seed)
    return AuditMetrics(
        n=n,
        accuracy=correct / n,
        accuracy_low=float(low),
        accuracy_high=float(high),
        macro_f1=float(f1),
        macro_f1_low=f1_low,
        macro_f1_high=f1_high,
    )


def _f1_interval(
    truth: np.ndarray, guess: np.ndarray, n_resamples: int, seed: int
) -> tuple[float | None, float | None]:
    """The bootstrap 95 % percentile interval of macro-F1, or (None, None) below
    ``MIN_INTERVAL_N`` rows, without resamples, or when every resample gives one value.

    Args:
        truth, guess: (n, k) 0/1 indicators.
        n_resamples: bootstrap resamples of the n rows.
        seed: seed of the resampling.
    """
    n = truth.shape[0]
    if n < MIN_INTERVAL_N or n_resamples == 0:
        return None, None
    weights = np.random.default_rng(seed).multinomial(n, np.full(n, 1.0 / n), size=n_resamples)
    resampled = _macro_f1(weights, truth, guess)
    if np.ptp(resampled) == 0:
        return None, None
    low, high = np.percentile(resampled, [2.5, 97.5])
    return float(low), float(high)


def _indicators(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, k) float 0/1 indicators of both; single-label indices become one-hot rows."""
    if y_true.ndim == 2:
        return y_true.astype(np.float64), y_pred.astype(np.float64)
    k = int(max(y_true.max(), y_pred.max())) + 1
    eye = np.eye(k)
    return eye[y_true], eye[y_pred]


def _macro_f1(weights: np.ndarray, truth: np.ndarray, guess: np.ndarray) -> np.ndarray:
    """Macro-F1 of each weighting of the rows, over the labels each one's truth holds.

    Args:
        weights: (B, n) how often each row counts (1s: the sample; multinomial: a resample).
        truth, guess: (n, k) 0/1 indicators.

    Returns:
        (B,) macro-F1 (0 for a weighting whose truth holds no label).
    """
    tp = weights @ (truth * guess)
    actual, predicted = weights @ truth, weights @ guess
    present = actual > 0
    f1 = np.divide(2 * tp, actual + predicted, out=np.zeros_like(tp), where=present)
    count = present.sum(axis=1)
    result: np.ndarray = np.where(count > 0, f1.sum(axis=1) / np.maximum(count, 1), 0.0)
    return result
