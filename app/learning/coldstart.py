"""Cold start: before any model exists, serve representative items instead of random ones.

k-means over the pool's features, then the item nearest to each centroid, largest cluster first.
"""

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import KMeans, MiniBatchKMeans

from app.learning.diversity import row_norms
from app.learning.estimators import Matrix

MAX_KMEANS_ROWS = 20_000  # k-means runs on a sample of this many rows at most
MINIBATCH_ABOVE = 5_000


def representative_items(X: Matrix, k: int, *, rng: np.random.Generator) -> np.ndarray:
    """Indices of k items that stand for the pool: the nearest item to each k-means centroid.

    Clusters are ordered by size, largest first, so any prefix of the answer is a sensible
    smaller batch. On big pools k-means runs on a random sample of MAX_KMEANS_ROWS rows.

    Args:
        X: pool features (n, d), sparse or dense (rows L2-normalised for cosine geometry).
        k: how many items; capped at n.
        rng: seeds the sample and k-means.

    Returns:
        int (intp) array of shape (min(k, n),), distinct row indices of X.
    """
    n = X.shape[0]
    k = min(k, n)
    if k <= 0:
        return np.empty(0, dtype=np.intp)
    sample = np.sort(rng.choice(n, MAX_KMEANS_ROWS, replace=False)) if n > MAX_KMEANS_ROWS else None
    rows = X[sample] if sample is not None else X
    seed = int(rng.integers(2**31 - 1))
    if rows.shape[0] > MINIBATCH_ABOVE:
        kmeans = MiniBatchKMeans(k, n_init=3, random_state=seed, batch_size=2048)
    else:
        kmeans = KMeans(k, n_init=1, random_state=seed)
    assignment = kmeans.fit_predict(rows)
    picked = _nearest_per_centroid(rows, kmeans.cluster_centers_, assignment)
    return sample[picked] if sample is not None else picked


def _nearest_per_centroid(X: Matrix, centers: np.ndarray, assignment: np.ndarray) -> np.ndarray:
    """For each centroid (largest cluster first), the nearest row of X not yet picked."""
    dots = X @ centers.T.astype(X.dtype, copy=False)
    dots = dots.toarray() if sp.issparse(dots) else np.asarray(dots)
    distance = row_norms(X)[:, None] ** 2 - 2.0 * dots + (centers**2).sum(axis=1)[None, :]
    sizes = np.bincount(assignment, minlength=centers.shape[0])
    picked: list[int] = []
    for cluster in np.argsort(-sizes, kind="stable"):
        column = distance[:, cluster].copy()
        column[picked] = np.inf
        picked.append(int(np.argmin(column)))
    return np.array(picked, dtype=np.intp)


def exploration_positions(depth: int, epsilon: float) -> np.ndarray:
    """Ranking positions given to random exploration items: round(epsilon * depth), evenly spread.

    With epsilon = 0.2 the positions are 4, 9, 14, ...: every batch of the ranking holds the same
    share of random items, whatever the batch size.

    Args:
        depth: length of the ranking.
        epsilon: share in [0, 1].

    Returns:
        int (intp) sorted positions in [0, depth).
    """
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
    count = int(round(epsilon * depth))
    if count == 0:
        return np.empty(0, dtype=np.intp)
    return np.unique(np.floor((np.arange(count) + 1) * depth / count).astype(np.intp) - 1)
