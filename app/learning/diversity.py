"""Geometry of the pool: row norms, information density and batch diversity (farthest-first
k-center, or one item per k-means cluster of the candidates).

Everything is O(n * d) time and O(n) extra memory: no n x n similarity matrix is ever built.
"""

import numpy as np
import scipy.sparse as sp
from sklearn.utils.extmath import row_norms as _sklearn_row_norms

from app.learning.estimators import Matrix, is_sparse
from app.learning.seeding import FastKMeans


def row_norms(X: Matrix) -> np.ndarray:
    """L2 norm of every row of X (n, d), sparse or dense, as float64 (n,), without a copy of X."""
    if is_sparse(X):
        X = sp.csr_matrix(X) if X.format != "csr" else X
    return np.sqrt(_sklearn_row_norms(X, squared=True)).astype(np.float64)


def gradient_norms(X: Matrix, *, intercept: bool = True) -> np.ndarray:
    """||x~|| per row for expected gradient length, x~ = [x, 1] with an intercept.

    Args:
        X: features (n, d).
        intercept: whether the linear model has an intercept (LabelModel has).

    Returns:
        float64 (n,).
    """
    squared = row_norms(X) ** 2
    return np.sqrt(squared + 1.0) if intercept else np.sqrt(squared)


def information_density(X: Matrix) -> np.ndarray:
    """Mean cosine similarity of each row to every row of the pool, in O(n * d).

    mean_j cos(x_i, x_j) = x^_i . mean_j x^_j with x^ = x / ||x||: one pass for the mean of the
    normalised rows (d,), one matrix-vector product. Zero rows get density 0.

    Args:
        X: pool features (n, d), sparse or dense.

    Returns:
        float64 (n,) in [-1, 1].
    """
    n = X.shape[0]
    if n == 0:
        return np.zeros(0)
    norms = row_norms(X)
    inverse = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    mean_direction = np.asarray(X.T @ inverse.astype(X.dtype, copy=False)).ravel() / n
    return np.asarray(X @ mean_direction.astype(X.dtype, copy=False)).ravel() * inverse


def density_weighted(scores: np.ndarray, density: np.ndarray, power: float) -> np.ndarray:
    """Information-density weighting: scores * max(density, 0) ** power.

    Args:
        scores: (n,) informativeness, >= 0 (all registered strategies are).
        density: (n,) from `information_density`.
        power: beta >= 0; 0 leaves scores unchanged.

    Returns:
        float64 (n,).
    """
    if power < 0:
        raise ValueError(f"density power must be >= 0, got {power}")
    if power == 0:
        return np.asarray(scores, dtype=np.float64)
    return scores * np.maximum(density, 0.0) ** power


def farthest_first(
    X: Matrix, k: int, *, labeled: Matrix | None = None, first: int = 0
) -> np.ndarray:
    """Greedy k-center: repeatedly take the row farthest from everything already taken.

    Starts from row `first` (the best-scored candidate when rows are in score order), keeps each
    row's squared distance to its nearest taken row (and to the labelled rows, if given) and
    updates it with one matrix-vector product per pick: O(k * m * d) for m candidates. Equal
    distances go to the lower row index, i.e. the better-scored candidate.

    Args:
        X: candidates (m, d), sparse or dense.
        k: how many to take; capped at m.
        labeled: (L, d) rows already labelled, counted as taken (optional).
        first: row taken first.

    Returns:
        int (intp) array of shape (min(k, m),), rows of X in pick order.
    """
    m = X.shape[0]
    k = min(k, m)
    if k <= 0:
        return np.empty(0, dtype=np.intp)
    squared = row_norms(X) ** 2
    nearest = np.full(m, np.inf)
    if labeled is not None and labeled.shape[0]:
        nearest = _min_squared_distance(X, squared, labeled)
    chosen = [first]
    for _ in range(k - 1):
        nearest = np.minimum(nearest, _squared_distance_to_row(X, squared, chosen[-1]))
        nearest[chosen] = -1.0
        chosen.append(int(np.argmax(nearest)))
    return np.array(chosen, dtype=np.intp)


def best_per_cluster(X: Matrix, k: int, *, rng: np.random.Generator) -> np.ndarray:
    """Cluster the candidates into k groups and take the first (best-scored) row of each.

    Rows must be in score order, best first; unlike farthest-first this never prefers outliers:
    each pick is the most informative item of a region of the candidates ("cluster-margin").

    Args:
        X: candidates (m, d), sparse or dense, best-scored first.
        k: how many to take; capped at m.
        rng: seeds k-means.

    Returns:
        int (intp) array of shape (min(k, m),), rows of X in ascending order (= score order).
    """
    m = X.shape[0]
    k = min(k, m)
    if k <= 0:
        return np.empty(0, dtype=np.intp)
    if k == m:
        return np.arange(m, dtype=np.intp)
    seed = int(rng.integers(2**31 - 1))
    labels = FastKMeans(k, n_init=1, random_state=seed).fit_predict(X)
    _, first = np.unique(labels, return_index=True)
    return np.sort(first).astype(np.intp)


def _squared_distance_to_row(X: Matrix, squared: np.ndarray, row: int) -> np.ndarray:
    """||x_i - x_row||^2 for every row i of X (m, d) -> (m,)."""
    dots = X @ X[row].T
    dots = dots.toarray() if is_sparse(dots) else dots
    dots = np.asarray(dots, dtype=np.float64).ravel()
    return np.maximum(squared + squared[row] - 2.0 * dots, 0.0)


def _min_squared_distance(X: Matrix, squared: np.ndarray, others: Matrix) -> np.ndarray:
    """min over rows o of others (L, d) of ||x_i - o||^2, for each row of X (m, d); chunked."""
    other_squared = row_norms(others) ** 2
    best = np.full(X.shape[0], np.inf)
    for start in range(0, others.shape[0], 1024):
        block = others[start : start + 1024]
        dots = X @ block.T
        dots = dots.toarray() if is_sparse(dots) else np.asarray(dots)
        distance = squared[:, None] + other_squared[None, start : start + 1024] - 2.0 * dots
        best = np.minimum(best, distance.min(axis=1))
    return np.maximum(best, 0.0)
