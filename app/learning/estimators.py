"""The label model: logistic regression over a fixed label space of `n_labels` indices.

Single-label is one multinomial model; multi-label is one binary model per label column.
"""

from typing import Any, Self, TypeAlias, TypeGuard

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils import Tags
from sklearn.utils.validation import check_is_fitted, validate_data

# scipy ships no types: its sparse classes are Any to mypy; `is_sparse` narrows a Matrix to them.
Sparse: TypeAlias = sp.spmatrix | sp.sparray
Matrix: TypeAlias = np.ndarray | Sparse
# The float types of probabilities and linear scores (float32 pools stay float32).
FloatType: TypeAlias = type[np.float32] | type[np.float64]
# A model's (c, d) coefficients and (c,) intercepts; no intercepts when a multi-label model has
# no fitted column (every label constant in training).
Coefficients: TypeAlias = tuple[np.ndarray, np.ndarray | None]
PREDICT_CHUNK_ROWS = 16_384


def is_sparse(X: object) -> TypeGuard[Sparse]:
    """`scipy.sparse.issparse` as a type guard: a scipy sparse matrix or array."""
    return bool(sp.issparse(X))


class NotEnoughLabelsError(ValueError):
    """The annotations cannot train a model yet (no rows, or a single class)."""


class LabelModel(ClassifierMixin, BaseEstimator):
    """Logistic regression whose outputs always span all `n_labels` label indices.

    Single-label: `y` is (n,) ints in [0, n_labels); probabilities of labels absent from
    training are 0. Multi-label: `y` is an (n, n_labels) 0/1 matrix; a column that is constant
    in training is predicted as that constant.
    """

    _wide: Coefficients | None  # `_coefficients`' cache; absent after unpickling

    def __init__(
        self,
        n_labels: int,
        *,
        multi_label: bool = False,
        C: float = 10.0,
        max_iter: int = 300,
        tol: float = 1e-3,
        random_state: int = 0,
    ) -> None:
        self.n_labels = n_labels
        self.multi_label = multi_label
        self.C = C
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def fit(self, X: Matrix, y: np.ndarray, *, warm_from: "LabelModel | None" = None) -> Self:
        """Train on labelled rows.

        Args:
            X: features, sparse or dense, shape (n, d).
            y: shape (n,) label indices in [0, n_labels) if single-label, else an
                (n, n_labels) 0/1 indicator matrix.
            warm_from: a model fitted on the same features (e.g. the previous retrain); its
                coefficients start the solver when it saw the same labels (single-label),
                which about halves the epochs to the same optimum. Ignored otherwise.

        Returns:
            self, fitted.

        Raises:
            NotEnoughLabelsError: no rows, or (single-label) fewer than 2 distinct labels.
            ValueError: `y` has the wrong shape or values outside the label space.
        """
        if self.n_labels < 1:
            raise ValueError(f"n_labels must be >= 1, got {self.n_labels}")
        if np.shape(X)[0] == 0:
            raise NotEnoughLabelsError("cannot train a model on zero labelled rows")
        X = validate_data(self, X, accept_sparse="csr", reset=True)
        active = _active_columns(X)
        if self.multi_label:
            Y = _check_indicator(y, X.shape[0], self.n_labels)
            self.estimators_ = self._fit_per_label(X[:, active], Y)
        else:
            labels = _check_indices(y, X.shape[0], self.n_labels)
            init = _warm_start(warm_from, X.shape[1], active, np.unique(labels))
            self.estimator_ = self._fit_multinomial(X[:, active], labels, init)
        self.active_features_ = active
        self.classes_ = np.arange(self.n_labels)
        self._wide = None
        return self

    def predict_proba(self, X: Matrix) -> np.ndarray:
        """Probability of every label index.

        Computed in chunks of rows straight from the coefficients (the same formulas as
        scikit-learn: softmax, or the logistic function for two classes / per label), so a
        pool of a million rows never holds more than one chunk of temporaries.

        Args:
            X: features, sparse or dense, shape (n, d) with the training d.

        Returns:
            float64 array of shape (n, n_labels): rows sum to 1 if single-label (0.0 for
            labels never seen in training); independent probabilities in [0, 1] if multi-label.
        """
        check_is_fitted(self, "classes_")
        X = validate_data(self, X, accept_sparse="csr", reset=False)
        proba = np.empty((X.shape[0], self.n_labels), dtype=np.float64)
        for start in range(0, X.shape[0], PREDICT_CHUNK_ROWS):
            rows = X[start : start + PREDICT_CHUNK_ROWS]
            proba[start : start + PREDICT_CHUNK_ROWS] = self.rows_proba(rows, dtype=np.float64)
        return proba

    def predict(self, X: Matrix) -> np.ndarray:
        """Most likely label(s).

        Args:
            X: features, sparse or dense, shape (n, d).

        Returns:
            (n,) int label indices if single-label, else an (n, n_labels) int 0/1 matrix
            (probability >= 0.5).
        """
        proba = self.predict_proba(X)
        if self.multi_label:
            return (proba >= 0.5).astype(np.int64)
        return proba.argmax(axis=1).astype(np.int64)

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = self.multi_label
        tags.input_tags.sparse = True
        return tags

    def _logistic_regression(self) -> LogisticRegression:
        # saga on sparse TF-IDF rows: far faster than lbfgs with many classes, at the same
        # held-out accuracy (bench/README.md, "Fitting").
        return LogisticRegression(
            C=self.C,
            solver="saga",
            tol=self.tol,
            max_iter=self.max_iter,
            random_state=self.random_state,
        )

    def _fit_multinomial(
        self, X: Matrix, y: np.ndarray, init: tuple[np.ndarray, np.ndarray] | None = None
    ) -> LogisticRegression:
        n_seen = np.unique(y).size
        if n_seen < 2:
            raise NotEnoughLabelsError(
                f"need labelled rows of at least 2 different labels to train, got {n_seen}"
            )
        model = self._logistic_regression()
        if init is not None:
            model.set_params(warm_start=True)
            model.coef_, model.intercept_ = init
        return model.fit(X, y)

    def _fit_per_label(self, X: Matrix, Y: np.ndarray) -> list[LogisticRegression | float]:
        """One binary model per column of Y (n, n_labels); a constant column stores its value."""
        models: list[LogisticRegression | float] = []
        for column in Y.T:
            if np.all(column == column[0]):
                models.append(float(column[0]))
            else:
                models.append(self._logistic_regression().fit(X, column))
        return models

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("_wide", None)  # a cache, rebuilt on first use
        return state

    def _coefficients(self, d: int) -> Coefficients:
        """(c, d) coefficients over all d input columns and (c,) intercepts, cached.

        Training sees the active columns only; scattering the coefficients back to all
        columns once lets prediction multiply pool rows as they are, instead of selecting
        columns of every chunk (a copy of the whole sparse pool per re-rank).
        """
        cached: Coefficients | None = getattr(self, "_wide", None)
        if cached is None:
            coef: np.ndarray
            intercept: np.ndarray | None
            if self.multi_label:
                fitted = [m for m in self.estimators_ if not isinstance(m, float)]
                coef = np.vstack([m.coef_ for m in fitted]) if fitted else np.zeros((0, 1))
                intercept = np.concatenate([m.intercept_ for m in fitted]) if fitted else None
            else:
                coef, intercept = self.estimator_.coef_, self.estimator_.intercept_
            if self.active_features_.size != d:
                wide = np.zeros((coef.shape[0], d), dtype=coef.dtype)
                wide[:, self.active_features_] = coef
                coef = wide
            cached = self._wide = (coef, intercept)
        return cached

    def decision_coefficients(self, d: int) -> tuple[np.ndarray, np.ndarray]:
        """(c, d) coefficients and (c,) intercepts whose linear scores `proba_from_decision` takes.

        A committee stacks its members' coefficients to score a pool chunk with one matrix
        product instead of one per member.

        Args:
            d: the number of input columns (the training d).
        """
        check_is_fitted(self, "classes_")
        coef, intercept = self._coefficients(d)
        if intercept is None:  # multi-label with every column constant: no linear scores
            intercept = np.zeros(0, dtype=coef.dtype)
            coef = np.zeros((0, d), dtype=coef.dtype)
        return coef, intercept

    def proba_from_decision(
        self, decision: np.ndarray, *, dtype: FloatType = np.float64
    ) -> np.ndarray:
        """Probabilities from the linear scores X @ coef.T + intercept of `decision_coefficients`.

        Args:
            decision: (n, c) scores; overwritten (softmax in place).
            dtype: float64, or float32 for a committee scoring a float32 pool (half the memory
                traffic; rows still sum to 1 within 1e-6).

        Returns:
            (n, n_labels) array of `dtype`, as `predict_proba`.
        """
        if self.multi_label:
            proba = np.empty((decision.shape[0], self.n_labels), dtype=dtype)
            fitted = [j for j, m in enumerate(self.estimators_) if not isinstance(m, float)]
            for j, model in enumerate(self.estimators_):
                if isinstance(model, float):
                    proba[:, j] = model
            if fitted:
                proba[:, fitted] = expit(decision)
            return proba
        model = self.estimator_
        if model.classes_.size == 2:  # one logistic score, as scikit-learn's binary model
            positive = expit(decision[:, 0])
            decision = np.column_stack([1.0 - positive, positive])
        else:
            _softmax_rows(decision)
        if model.classes_.size == self.n_labels:  # every label seen: no scatter needed
            proba = decision.astype(dtype, copy=False)
        else:
            proba = np.zeros((decision.shape[0], self.n_labels), dtype=dtype)
            proba[:, model.classes_] = decision
        # float32 scores give float32 probabilities; renormalise so rows sum to 1 in `dtype`.
        proba /= proba.sum(axis=1, keepdims=True)
        return proba

    def rows_proba(self, X: Matrix, *, dtype: FloatType | None = None) -> np.ndarray:
        """`predict_proba` of rows that need no validation (the pool's own cached features),
        in one piece.

        Args:
            X: features, sparse or dense, shape (n, d) with the training d.
            dtype: of the result; None keeps the linear scores' (float32 for a float32 pool,
                as a Committee's members: rows sum to 1 within 1e-6).
        """
        decision = linear_scores(X, *self.decision_coefficients(X.shape[1]))
        return self.proba_from_decision(decision, dtype=dtype or decision.dtype.type)


def _warm_start(
    previous: LabelModel | None, d: int, active: np.ndarray, seen: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """Starting (coef over `active`, intercept) from `previous`, if it is compatible."""
    if (
        previous is None
        or previous.multi_label
        or not hasattr(previous, "estimator_")
        or previous.n_features_in_ != d
        or not np.array_equal(previous.estimator_.classes_, seen)
    ):
        return None
    coef, intercept = previous.decision_coefficients(d)  # single-label: its own intercepts
    return coef[:, active].astype(np.float64), intercept.astype(np.float64).copy()


def linear_scores(X: Matrix, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    """Linear scores X (n, d) @ coef (c, d).T + intercept (c,), shape (n, c).

    float32 features stay float32 (coefficients cast down): twice as fast, and probabilities
    agree with float64 to ~1e-7. Anything else is computed in float64.
    """
    dtype: FloatType = np.float32 if X.dtype == np.float32 else np.float64
    scores: np.ndarray = np.asarray(X @ coef.astype(dtype, copy=False).T, dtype=dtype)
    scores += intercept.astype(dtype, copy=False)
    return scores


def _softmax_rows(scores: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (n, c) scores, in place and in their own precision."""
    scores -= scores.max(axis=1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=1, keepdims=True)
    return scores


def _active_columns(X: Matrix) -> np.ndarray:
    """Indices of the columns of X (n, d) with a non-zero entry; [0] if there is none.

    An L2-penalised logistic regression puts exactly zero weight on an all-zero column, so
    fitting on the active columns only gives the same model, much faster when d >> n.
    """
    nonzero = X.getnnz(axis=0) > 0 if is_sparse(X) else np.any(X != 0, axis=0)
    return np.flatnonzero(nonzero) if nonzero.any() else np.arange(1)


def _check_indices(y: np.ndarray, n_rows: int, n_labels: int) -> np.ndarray:
    """Validate single-label targets: (n_rows,) integers in [0, n_labels)."""
    y = np.asarray(y)
    if y.shape != (n_rows,):
        raise ValueError(f"single-label y must have shape ({n_rows},), got {y.shape}")
    if not _is_integral(y) or y.min() < 0 or y.max() >= n_labels:
        raise ValueError(f"single-label y must hold integer label indices in [0, {n_labels})")
    return y.astype(np.int64)


def _check_indicator(y: Matrix, n_rows: int, n_labels: int) -> np.ndarray:
    """Validate multi-label targets: an (n_rows, n_labels) matrix of 0/1, dense or sparse."""
    y = y.toarray() if is_sparse(y) else np.asarray(y)
    if y.shape != (n_rows, n_labels):
        raise ValueError(f"multi-label y must have shape ({n_rows}, {n_labels}), got {y.shape}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("multi-label y must be a 0/1 indicator matrix")
    return y.astype(np.int64)


def _is_integral(y: np.ndarray) -> bool:
    if np.issubdtype(y.dtype, np.integer):
        return True
    return np.issubdtype(y.dtype, np.floating) and bool(np.all(np.mod(y, 1) == 0))
