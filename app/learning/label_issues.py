"""Suspicious labels: labelled rows ranked by how likely their label is wrong.

Confident learning (``cleanlab``) on out-of-fold probabilities: a row is flagged when its
given label is improbable against the per-class thresholds the probabilities themselves set.
"""

import warnings
from dataclasses import dataclass

import numpy as np

# cleanlab is imported where used (a run's last step): the web process reads this module.

MIN_ROWS = 4


@dataclass(frozen=True)
class LabelIssues:
    """Flagged rows, most suspicious first.

    Attributes:
        indices: (m,) int64 row indices into the labels given, most suspicious first.
        scores: (m,) float64 out-of-fold probability of each row's given label (for a
            multi-label row: of its least probable given 0/1 value); low means likely wrong.
    """

    indices: np.ndarray
    scores: np.ndarray

    @classmethod
    def none(cls) -> "LabelIssues":
        return cls(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))


def rank_label_issues(proba: np.ndarray, y: np.ndarray) -> LabelIssues:
    """The rows cleanlab flags as label issues, ranked by self-confidence (lowest first).

    Args:
        proba: (n, k) out-of-fold probabilities: softmax rows (single-label) or independent
            per-label probabilities (multi-label), each row predicted by a model not
            trained on it.
        y: (n,) label indices in [0, k) (single-label) or an (n, k) 0/1 matrix (multi-label).

    Returns:
        LabelIssues; empty with fewer than 4 rows or, single-label, fewer than 2 distinct
        labels (nothing to tell a wrong label from). A class with too few rows to estimate
        its noise is left as cleanlab leaves it (possibly with none of its rows flagged).
    """
    proba = np.asarray(proba, dtype=np.float64)
    y = np.asarray(y)
    if proba.shape[0] != y.shape[0] or proba.ndim != 2:
        raise ValueError(f"proba {proba.shape} and y {y.shape} do not match")
    multi_label = y.ndim == 2
    if y.shape[0] < MIN_ROWS or (not multi_label and np.unique(y).size < 2):
        return LabelIssues.none()
    labels: list[list[int]] | np.ndarray = (
        [np.flatnonzero(row).tolist() for row in y] if multi_label else y.astype(np.int64)
    )
    from cleanlab.filter import find_label_issues

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "too few examples in class ...": expected early on
        ranked = find_label_issues(
            labels,
            _clipped(proba),
            return_indices_ranked_by="self_confidence",
            multi_label=multi_label,
            n_jobs=1,  # no process pool inside the training worker
        )
    indices = np.asarray(ranked, dtype=np.int64)
    return LabelIssues(indices, given_label_probability(proba, y)[indices])


def given_label_probability(proba: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(n,) probability of each row's given label; multi-label: of the least probable of its
    given 0/1 values (p for a 1, 1 - p for a 0).

    Args:
        proba: (n, k) probabilities.
        y: (n,) label indices or (n, k) 0/1 matrix.
    """
    if y.ndim == 2:
        agreeing = np.where(y.astype(bool), proba, 1.0 - proba)
        return np.asarray(agreeing.min(axis=1), dtype=np.float64)
    return np.asarray(proba[np.arange(y.shape[0]), y], dtype=np.float64)


def suggested(proba: np.ndarray, *, multi_label: bool) -> list[list[int]]:
    """The model's labels of each row: the most probable (single-label) or those >= 0.5.

    Args:
        proba: (n, k) probabilities.

    Returns:
        n lists of label indices (a multi-label row may get an empty list).
    """
    if multi_label:
        return [np.flatnonzero(row >= 0.5).tolist() for row in proba]
    return [[int(i)] for i in proba.argmax(axis=1)]


def _clipped(proba: np.ndarray) -> np.ndarray:
    """Probabilities cleanlab accepts: finite and in [0, 1]."""
    return np.clip(np.nan_to_num(proba, nan=0.0), 0.0, 1.0)
