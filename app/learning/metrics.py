"""Cross-validated quality of a label model: accuracy and macro-F1 from out-of-fold predictions.

One cross-validation pass also yields the out-of-fold probabilities (`cross_validate`), which
the label-issue ranking (`app.learning.label_issues`) reads: the folds are fitted once for both.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import KFold, StratifiedKFold

from app.learning.estimators import LabelModel, Matrix

Folds = Iterator[tuple[np.ndarray, np.ndarray]]
MIN_ROWS = 4


@dataclass(frozen=True)
class CrossValidation:
    """What one cross-validation pass yields.

    Attributes:
        metrics: {"accuracy": float, "macro_f1": float}, as `cross_validated_metrics`.
        proba: (n, n_labels) float64 out-of-fold probabilities: row i is predicted by the
            model not trained on row i (softmax rows sum to 1; multi-label: per-label).
    """

    metrics: dict[str, float]
    proba: np.ndarray


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
    result = cross_validate(X, y, make_model, n_splits=n_splits, random_state=random_state)
    return None if result is None else result.metrics


def cross_validate(
    X: Matrix,
    y: np.ndarray,
    make_model: Callable[[], LabelModel],
    *,
    n_splits: int = 5,
    random_state: int = 0,
) -> CrossValidation | None:
    """`cross_validated_metrics` and the out-of-fold probabilities, from one pass of folds.

    Args and the None cases: as `cross_validated_metrics`; `make_model` must build models
    with `predict_proba` over all n_labels (`LabelModel`). A single-label training fold with
    only one label gives that label probability 1.

    Returns:
        CrossValidation with metrics and (n, n_labels) probabilities, or None.
    """
    if n_splits < 2:
        raise ValueError(f"n_splits must be >= 2, got {n_splits}")
    y = np.asarray(y)
    multi_label = y.ndim == 2
    present = _present_labels(y)
    if y.shape[0] < MIN_ROWS or present.size < (1 if multi_label else 2):
        return None
    folds = _folds(y, min(n_splits, y.shape[0]), random_state)
    proba = _out_of_fold_probabilities(X, y, make_model, folds)
    predicted = (proba >= 0.5).astype(y.dtype) if multi_label else proba.argmax(axis=1)
    macro_f1 = f1_score(y, predicted, labels=present, average="macro", zero_division=0)
    metrics = {"accuracy": float(accuracy_score(y, predicted)), "macro_f1": float(macro_f1)}
    return CrossValidation(metrics=metrics, proba=proba)


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


def _out_of_fold_probabilities(
    X: Matrix,
    y: np.ndarray,
    make_model: Callable[[], LabelModel],
    folds: Folds,
) -> np.ndarray:
    """(n, n_labels) probabilities for every row of X (n, d) by the model not trained on it.

    A model is built only for the folds it fits (a one-label training fold trains nothing);
    the width comes from the first fitted model, or from an unfitted one if none was fitted.
    """
    fitted: list[tuple[np.ndarray, np.ndarray]] = []  # (test rows, their probabilities)
    constant: list[tuple[np.ndarray, int]] = []  # (test rows, the training fold's one label)
    n_labels: int | None = None
    for train, test in folds:
        train_y = y[train]
        if train_y.ndim == 1 and np.unique(train_y).size < 2:
            constant.append((test, int(train_y[0])))
            continue
        model = make_model()
        n_labels = model.n_labels
        fitted.append((test, model.fit(X[train], train_y).predict_proba(X[test])))
    proba = np.zeros((y.shape[0], make_model().n_labels if n_labels is None else n_labels))
    for test, rows in fitted:
        proba[test] = rows
    for test, label in constant:
        proba[test, label] = 1.0
    return proba
