"""Cross-validated quality of a label model: accuracy and macro-F1 from out-of-fold predictions."""

from collections.abc import Callable, Iterator

import numpy as np
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import KFold, StratifiedKFold

from app.learning.estimators import LabelModel, Matrix

Folds = Iterator[tuple[np.ndarray, np.ndarray]]
MIN_ROWS = 4


def cross_validated_metrics(
    X: Matrix,
    y: np.ndarray,
    make_model: Callable[[], LabelModel],
    *,
    n_splits: int = 5,
    random_state: int = 0,
) -> dict[str, float] | None:
    """Accuracy and macro-F1 of out-of-fold predictions.

    Folds are stratified when every label has >= n_splits rows, else shuffled KFold; n_splits
    is capped at the number of rows. A single-label training fold with only one label predicts
    that label instead of fitting.

    Args:
        X: features, sparse or dense, shape (n, d).
        y: shape (n,) label indices (single-label) or (n, n_labels) 0/1 matrix (multi-label).
        make_model: builds a fresh unfitted model per fold.
        n_splits: wanted number of folds, >= 2.
        random_state: seed of the fold shuffle.

    Returns:
        {"accuracy": float, "macro_f1": float} (subset accuracy for multi-label; macro-F1 over
        the labels present in y), or None with fewer than 4 rows, fewer than 2 distinct labels
        (single-label) or no positive label at all (multi-label).
    """
    if n_splits < 2:
        raise ValueError(f"n_splits must be >= 2, got {n_splits}")
    y = np.asarray(y)
    multi_label = y.ndim == 2
    present = _present_labels(y)
    if y.shape[0] < MIN_ROWS or present.size < (1 if multi_label else 2):
        return None
    folds = _folds(y, min(n_splits, y.shape[0]), random_state)
    predicted = _out_of_fold_predictions(X, y, make_model, folds)
    macro_f1 = f1_score(y, predicted, labels=present, average="macro", zero_division=0)
    return {"accuracy": float(accuracy_score(y, predicted)), "macro_f1": float(macro_f1)}


def _present_labels(y: np.ndarray) -> np.ndarray:
    """Labels occurring in y: distinct values of (n,) y, or columns of (n, k) y with a 1."""
    return np.flatnonzero(y.any(axis=0)) if y.ndim == 2 else np.unique(y)


def _folds(y: np.ndarray, n_splits: int, random_state: int) -> Folds:
    """(train, test) row indices; stratified if y is (n,) and every label has n_splits rows."""
    if y.ndim == 1 and np.unique(y, return_counts=True)[1].min() >= n_splits:
        splitter = StratifiedKFold(n_splits, shuffle=True, random_state=random_state)
    else:
        splitter = KFold(n_splits, shuffle=True, random_state=random_state)
    return splitter.split(np.zeros((y.shape[0], 1)), y)


def _out_of_fold_predictions(
    X: Matrix,
    y: np.ndarray,
    make_model: Callable[[], LabelModel],
    folds: Folds,
) -> np.ndarray:
    """Predictions for every row of X (n, d) by the model not trained on it; shaped like y."""
    predicted = np.zeros_like(y)
    for train, test in folds:
        train_y = y[train]
        if train_y.ndim == 1 and np.unique(train_y).size < 2:
            predicted[test] = train_y[0]
        else:
            predicted[test] = make_model().fit(X[train], train_y).predict(X[test])
    return predicted
