"""Query by committee: a committee of label models, each fitted on its own view of the labels.

Members differ by bootstrap resample of the labelled rows, by random feature subspace and/or by
feature view (e.g. one member on TF-IDF, one on MiniLM). Their disagreement is scored by the
strategies of `qbc` (vote entropy, mean KL divergence to the consensus).
"""

from collections.abc import Iterator
from typing import Any, Self, TypeAlias

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from app.learning.estimators import (
    PREDICT_CHUNK_ROWS,
    FloatType,
    LabelModel,
    Matrix,
    linear_scores,
)
from app.learning.qbc import MemberStats

_EXP_SAFE = 80.0  # exp(+-80) is finite and normal in float32
# Features (n, d), or several views of the same rows as a list or tuple [(n, d_0), ...].
Views: TypeAlias = Matrix | list[Matrix] | tuple[Matrix, ...]


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

    def fit(self, X: Views, y: np.ndarray) -> Self:
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
        views = _views(X)
        rng = np.random.default_rng(self.random_state)
        y = np.asarray(y)
        self.members_, self.views_, self.columns_ = [], [], []
        self.__dict__.pop("_stacks", None)
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

    def predict_proba_members(self, X: Views) -> np.ndarray:
        """Every member's probabilities.

        The members of a view are scored with one matrix product of the pool rows and their
        stacked coefficients (a member on a feature subspace has zeros elsewhere), chunk by
        chunk, so the pool is read once per view rather than once per member.

        Args:
            X: the pool in the same view layout as in `fit`: (n, d) or a list of views.

        Returns:
            array of shape (n_members, n, n_labels): float32 when every view is float32 (a
            dense embedding pool: half the memory traffic of the disagreement pass), else
            float64.
        """
        check_is_fitted(self, "members_")
        views = _views(X)
        dtype = _pool_dtype(views)
        out = np.empty((len(self.members_), views[0].shape[0], self.n_labels), dtype=dtype)
        for rows, decision, blocks in self._chunk_scores(views):
            for i, columns in blocks:
                out[i, rows] = self.members_[i].proba_from_decision(
                    decision[:, columns], dtype=dtype
                )
        return out

    def _chunk_scores(
        self, views: list[Matrix]
    ) -> Iterator[tuple[slice, np.ndarray, list[tuple[int, slice]]]]:
        """Per view and chunk of pool rows: (the rows, the linear scores of all the view's
        members from one matrix product, each member's (index, columns of those scores))."""
        for view, matrix in enumerate(views):
            coef, intercept, blocks = self._stacked(view, matrix.shape[1])
            if not blocks:
                continue
            for start in range(0, matrix.shape[0], PREDICT_CHUNK_ROWS):
                rows = slice(start, start + PREDICT_CHUNK_ROWS)
                yield rows, linear_scores(matrix[rows], coef, intercept), blocks

    def _stacked(self, view: int, d: int) -> tuple[np.ndarray, np.ndarray, list[tuple[int, slice]]]:
        """The coefficients of the members on `view`, stacked over all d columns, cached.

        Returns:
            (C, d) coefficients, (C,) intercepts and, per member, (member index, its slice of
            the C output columns).
        """
        cache = self.__dict__.setdefault("_stacks", {})
        if (view, d) not in cache:
            coefs, intercepts, blocks, offset = [], [], [], 0
            for i, (member, columns) in enumerate(zip(self.members_, self.columns_, strict=True)):
                if self.views_[i] != view:
                    continue
                coef, intercept = member.decision_coefficients(member.n_features_in_)
                if columns is not None:
                    wide = np.zeros((coef.shape[0], d), dtype=coef.dtype)
                    wide[:, columns] = coef
                    coef = wide
                coefs.append(coef)
                intercepts.append(intercept)
                blocks.append((i, slice(offset, offset + coef.shape[0])))
                offset += coef.shape[0]
            coef = np.vstack(coefs) if coefs else np.zeros((0, d))
            intercept = np.concatenate(intercepts) if intercepts else np.zeros(0)
            cache[view, d] = (coef, intercept, blocks)
        return cache[view, d]

    def member_stats(self, X: Views) -> MemberStats:
        """What the disagreement measures need, without materialising (m, n, k) float64.

        Single-label only. Per chunk, the members of a view are one matrix product; their
        softmax, votes and entropies are computed together over an (rows, members, labels)
        block, each member's entropy from its logits (log of the softmax denominator minus
        sum p z: one log per row, not per probability). float32 pools are computed in float32.

        Args:
            X: the pool in the same view layout as in `fit`.

        Returns:
            MemberStats over the n pool rows.

        Raises:
            ValueError: the committee is multi-label.
        """
        check_is_fitted(self, "members_")
        if self.multi_label:
            raise ValueError("member_stats is single-label only")
        views = _views(X)
        n, m = views[0].shape[0], len(self.members_)
        dtype = _pool_dtype(views)
        consensus = np.zeros((n, self.n_labels), dtype=dtype)
        votes = np.empty((m, n), dtype=np.intp)
        entropies = np.empty((m, n), dtype=dtype)
        labels = np.arange(self.n_labels)
        for rows, decision, blocks in self._chunk_scores(views):
            for group, width, classes in _groups(self.members_, blocks):
                index = [i for i, _ in group]
                z = decision[:, group[0][1].start : group[-1][1].stop]
                summed, entropy, vote = _softmax_stats(z.reshape(z.shape[0], len(group), width))
                entropies[index, rows] = entropy.T
                if np.array_equal(classes, labels):  # every label seen: no scatter
                    votes[index, rows] = vote.T
                    consensus[rows] += summed
                else:
                    votes[index, rows] = classes[vote].T
                    consensus[rows, classes] += summed
        consensus /= m
        return MemberStats(consensus, votes, entropies)

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("_stacks", None)  # a cache, rebuilt on first use
        return state

    def predict_proba(self, X: Views) -> np.ndarray:
        """The consensus: the members' mean probabilities, shape (n, n_labels)."""
        return self.predict_proba_members(X).mean(axis=0)

    def predict(self, X: Views) -> np.ndarray:
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
        n: int = y.shape[0]
        if self.multi_label or n == 0:
            return rng.integers(0, n, size=n)
        classes = np.unique(y)
        keep = np.array([rng.choice(np.flatnonzero(y == c)) for c in classes])
        rest = rng.integers(0, n, size=max(n - classes.size, 0))
        return np.concatenate([keep, rest])


def _groups(
    members: list[LabelModel], blocks: list[tuple[int, slice]]
) -> list[tuple[list[tuple[int, slice]], int, np.ndarray]]:
    """Runs of adjacent member blocks with the same classes, as (blocks, width, classes).

    Members in one run share one reshape (rows, run length, width) of the linear scores.
    Binary members (one logistic score) and members with too few classes form runs of their
    own and are handled by `_softmax_stats` on their expanded scores.
    """
    runs: list[tuple[list[tuple[int, slice]], int, np.ndarray]] = []
    for i, columns in blocks:
        classes = members[i].estimator_.classes_
        if (
            runs
            and np.array_equal(runs[-1][2], classes)
            and runs[-1][0][-1][1].stop == columns.start
        ):
            runs[-1][0].append((i, columns))
        else:
            runs.append(([(i, columns)], columns.stop - columns.start, classes))
    return runs


def _softmax_stats(z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Softmax over the last axis of (rows, g, c) scores: (sum over g of the probabilities
    (rows, c), entropies (rows, g), argmax (rows, g)).

    c == 1 is a binary member's logistic score: it is expanded to the two-class scores
    (0, z) first, which have the same softmax. `z` is overwritten. The probabilities are
    never materialised one by one: with e = exp(z - max) and t = sum e, p = e / t, so
    sum_g p = e . (1 / t) and the entropy log t - sum p z = log t - (e . z) / t. Both are
    unchanged by shifting a row of z, so the shift by the row maximum that keeps exp finite is
    skipped when every |z| < 80 (two reductions over the block instead of one per row).
    """
    if z.shape[2] == 1:
        z = np.concatenate([np.zeros_like(z), z], axis=2)
    vote = z.argmax(axis=2)
    if max(z.max(), -z.min()) >= _EXP_SAFE:  # else exp(z) is finite and no row sum underflows
        z -= z.max(axis=2, keepdims=True)
    e = np.exp(z)
    inverse = 1.0 / e.sum(axis=2)
    entropy = -np.log(inverse) - np.einsum("rgc,rgc->rg", e, z) * inverse
    return np.einsum("rgc,rg->rc", e, inverse), entropy, vote


def _views(X: Views) -> list[Matrix]:
    """The list of views: X itself if it is a list or tuple, else [X]."""
    return list(X) if isinstance(X, list | tuple) else [X]


def _pool_dtype(views: list[Matrix]) -> FloatType:
    """float32 when every view is float32 (then member scores stay float32), else float64."""
    return np.float32 if all(v.dtype == np.float32 for v in views) else np.float64


def _columns(X: Matrix, columns: np.ndarray | None) -> Matrix:
    return X if columns is None else X[:, columns]
