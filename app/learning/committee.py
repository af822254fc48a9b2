"""Query by committee: a committee of label models and its two disagreement measures.

Members differ by bootstrap resample of the labelled rows, by random feature subspace and/or by
feature view (e.g. one member on TF-IDF, one on MiniLM). Disagreement is scored as vote entropy
or mean KL divergence to the consensus.
"""

from collections.abc import Sequence
from typing import Self

import numpy as np
from scipy.special import xlogy
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from app.learning.estimators import LabelModel, Matrix

TIE_BREAK = 1e-6  # weight of the consensus entropy that orders items with equal votes


class Committee(BaseEstimator):
    """k LabelModels over resampled rows and/or several feature views of the same items.

    Single-label bootstrap resamples keep one row of every labelled class per member, so no
    member is blind to a class it could have seen (with 25 labels over 77 classes a plain
    bootstrap would drop a third of the classes and turn that into fake disagreement).
    `max_features` < 1 gives each member a random subset of the feature columns instead of (or
    as well as) resampled rows: every member then sees every labelled row, so members do not
    disagree merely about the near-duplicates of rows some of them missed.
    """

    def __init__(
        self,
        n_labels: int,
        *,
        n_members: int = 5,
        multi_label: bool = False,
        bootstrap: bool = True,
        max_features: float = 1.0,
        C: float = 10.0,
        max_iter: int = 300,
        tol: float = 1e-3,
        random_state: int = 0,
    ) -> None:
        self.n_labels = n_labels
        self.n_members = n_members
        self.multi_label = multi_label
        self.bootstrap = bootstrap
        self.max_features = max_features
        self.C = C
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def fit(self, X: Matrix | Sequence[Matrix], y: np.ndarray) -> Self:
        """Train every member.

        Args:
            X: features (n, d), or a list of views [(n, d_0), (n, d_1), ...] of the same rows;
                member i trains on view i mod len(views).
            y: (n,) label indices, or (n, n_labels) 0/1 if multi-label.

        Returns:
            self, fitted (`members_`, `views_`, `columns_`: each member's feature columns or
            None for all).

        Raises:
            NotEnoughLabelsError: as `LabelModel.fit`.
        """
        if self.n_members < 1:
            raise ValueError(f"n_members must be >= 1, got {self.n_members}")
        if not 0.0 < self.max_features <= 1.0:
            raise ValueError(f"max_features must be in (0, 1], got {self.max_features}")
        views = list(X) if isinstance(X, list | tuple) else [X]
        rng = np.random.default_rng(self.random_state)
        y = np.asarray(y)
        self.members_, self.views_, self.columns_ = [], [], []
        for i in range(self.n_members):
            view = i % len(views)
            rows = self._resample(y, rng) if self.bootstrap else np.arange(y.shape[0])
            columns = self._subspace(views[view].shape[1], rng)
            member = LabelModel(
                self.n_labels,
                multi_label=self.multi_label,
                C=self.C,
                max_iter=self.max_iter,
                tol=self.tol,
                random_state=self.random_state + i,
            )
            self.members_.append(member.fit(_columns(views[view][rows], columns), y[rows]))
            self.views_.append(view)
            self.columns_.append(columns)
        return self

    def predict_proba_members(self, X: Matrix | Sequence[Matrix]) -> np.ndarray:
        """Every member's probabilities.

        Args:
            X: the pool in the same view layout as in `fit`: (n, d) or a list of views.

        Returns:
            float64 array of shape (n_members, n, n_labels).
        """
        check_is_fitted(self, "members_")
        views = list(X) if isinstance(X, list | tuple) else [X]
        out = np.empty((len(self.members_), views[0].shape[0], self.n_labels))
        for i, (member, view, columns) in enumerate(
            zip(self.members_, self.views_, self.columns_, strict=True)
        ):
            out[i] = member.predict_proba(_columns(views[view], columns))
        return out

    def predict_proba(self, X: Matrix | Sequence[Matrix]) -> np.ndarray:
        """The consensus: the members' mean probabilities, shape (n, n_labels)."""
        return self.predict_proba_members(X).mean(axis=0)

    def predict(self, X: Matrix | Sequence[Matrix]) -> np.ndarray:
        """Consensus prediction: (n,) label indices, or (n, n_labels) 0/1 if multi-label."""
        proba = self.predict_proba(X)
        if self.multi_label:
            return (proba >= 0.5).astype(np.int64)
        return proba.argmax(axis=1).astype(np.int64)

    def _subspace(self, d: int, rng: np.random.Generator) -> np.ndarray | None:
        """Sorted random feature columns for one member, or None for all d."""
        if self.max_features >= 1.0:
            return None
        size = max(1, int(np.ceil(self.max_features * d)))
        return np.sort(rng.choice(d, size, replace=False))

    def _resample(self, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Bootstrap row indices (n,); single-label: the first row of each class guaranteed."""
        n = y.shape[0]
        if self.multi_label or n == 0:
            return rng.integers(0, n, size=n)
        classes = np.unique(y)
        keep = np.array([rng.choice(np.flatnonzero(y == c)) for c in classes])
        rest = rng.integers(0, n, size=max(n - classes.size, 0))
        return np.concatenate([keep, rest])


def _columns(X: Matrix, columns: np.ndarray | None) -> Matrix:
    return X if columns is None else X[:, columns]


def vote_entropy(
    proba: np.ndarray,
    *,
    multi_label: bool,
    rng: np.random.Generator,
    committee: np.ndarray,
) -> np.ndarray:
    """Entropy (nats) of the members' hard votes; ties broken by the consensus entropy.

    Single-label: votes are each member's argmax, V(y) / m is the vote share of y and the score
    is -sum_y V(y)/m log V(y)/m. Multi-label: the mean over labels of the binary entropy of the
    share of members voting p >= 0.5. A term < TIE_BREAK (normalised consensus entropy) orders
    items with identical votes, so a unanimous pool still ranks by uncertainty.

    Args:
        proba: (n, k) consensus; used for the tie-break.
        multi_label: whether columns are independent per-label probabilities.
        rng: ignored.
        committee: (m, n, k) member probabilities.

    Returns:
        float64 array of shape (n,), >= 0.
    """
    m, n, k = committee.shape
    if multi_label:
        share = np.mean(committee >= 0.5, axis=0)  # (n, k)
        votes = np.mean(_binary_entropy(share), axis=1)
        spread = np.mean(_binary_entropy(proba), axis=1) / np.log(2.0)
    else:
        counts = np.zeros((n, k), dtype=np.float64)
        rows = np.arange(n)
        for member in committee:  # a loop over the m members, not over rows
            counts[rows, member.argmax(axis=1)] += 1.0
        votes = -xlogy(counts / m, counts / m).sum(axis=1)
        spread = -xlogy(proba, proba).sum(axis=1) / np.log(max(k, 2))
    return votes + TIE_BREAK * spread


def kl_to_consensus(
    proba: np.ndarray,
    *,
    multi_label: bool,
    rng: np.random.Generator,
    committee: np.ndarray,
) -> np.ndarray:
    """Mean over members of KL(member || consensus), consensus = the members' mean.

    Computed as H(consensus) - mean_m H(member_m) (the two are equal when the consensus is the
    mean), so only one log pass over the (m, n, k) array is needed.

    Args:
        proba: (n, k); ignored (the consensus is recomputed from `committee`).
        multi_label: per-label Bernoulli KL averaged over labels if True.
        rng: ignored.
        committee: (m, n, k) member probabilities.

    Returns:
        float64 array of shape (n,), >= 0 (0 when all members agree).
    """
    consensus = committee.mean(axis=0)
    if multi_label:
        spread = _binary_entropy(consensus) - _binary_entropy(committee).mean(axis=0)
        return np.maximum(spread.mean(axis=1), 0.0)
    spread = -_plogp(consensus).sum(axis=1)
    spread += _plogp(committee).sum(axis=2).mean(axis=0)
    return np.maximum(spread, 0.0)


def _plogp(p: np.ndarray) -> np.ndarray:
    """p log p with 0 log 0 = 0, elementwise (3x faster than scipy's xlogy on big arrays)."""
    return p * np.log(np.maximum(p, np.finfo(p.dtype).tiny))


def _binary_entropy(p: np.ndarray) -> np.ndarray:
    return -xlogy(p, p) - xlogy(1.0 - p, 1.0 - p)
