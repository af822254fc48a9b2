"""Cold start: representative items before any model exists, typical items while labels are few.

Before the first model: k-means over the pool's features, then the item nearest to each
centroid, largest cluster first. While there are only a few labels per class (the warm-up):
TypiClust (Hacohen et al., 2022, "Active learning on a budget"), the most typical item of each
of the largest k-means clusters that hold the fewest labelled items. With so few labels a model's
uncertainty says little; covering the dense regions of the pool finds the classes first.
"""

import numpy as np
import scipy.sparse as sp
from sklearn.decomposition import TruncatedSVD

from app.learning.diversity import row_norms
from app.learning.estimators import Matrix, is_sparse
from app.learning.seeding import FastKMeans, FastMiniBatchKMeans

MAX_KMEANS_ROWS = 20_000  # k-means runs on a sample of this many rows at most
MINIBATCH_ABOVE = 5_000
MAX_CLUSTERS = 500  # TypiClust's cap on the number of clusters
TYPICALITY_NEIGHBOURS = 20
MIN_CLUSTER_SIZE = 5  # smaller clusters are outliers, taken only when nothing else is left
SVD_COMPONENTS = 100  # sparse (TF-IDF) rows are clustered in this many SVD dimensions


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
    sample = _sample(n, rng)
    rows = X[sample] if sample is not None else X
    kmeans = _kmeans(k, rows.shape[0], rng, batch_size=2048)
    assignment = kmeans.fit_predict(rows)
    picked = _nearest_per_centroid(rows, kmeans.cluster_centers_, assignment)
    return sample[picked] if sample is not None else picked


def _sample(n: int, rng: np.random.Generator) -> np.ndarray | None:
    """Sorted rows of a random sample of MAX_KMEANS_ROWS, or None when n is no bigger."""
    return np.sort(rng.choice(n, MAX_KMEANS_ROWS, replace=False)) if n > MAX_KMEANS_ROWS else None


def _kmeans(
    k: int, n_rows: int, rng: np.random.Generator, *, batch_size: int, inits: int = 3
) -> FastKMeans | FastMiniBatchKMeans:
    """k-means for n_rows rows: mini-batch (`inits` inits) above MINIBATCH_ABOVE rows, else
    full k-means (one init)."""
    seed = int(rng.integers(2**31 - 1))
    if n_rows > MINIBATCH_ABOVE:
        return FastMiniBatchKMeans(k, n_init=inits, random_state=seed, batch_size=batch_size)
    return FastKMeans(k, n_init=1, random_state=seed)


def typical_items(
    pool: Matrix,
    labeled: Matrix | None,
    k: int,
    *,
    rng: np.random.Generator,
    basis: np.ndarray | None = None,
) -> np.ndarray:
    """TypiClust: k items that cover the regions of the pool the labelled items do not.

    Clusters the pool and the labelled rows together into min(L + k, MAX_CLUSTERS) k-means
    clusters, then walks the clusters with the fewest labelled rows first (larger first among
    equals) and takes the most typical pool row of each: the one with the smallest mean distance
    to its nearest neighbours (TYPICALITY_NEIGHBOURS, at most half the cluster) inside the
    cluster. Clusters of fewer than MIN_CLUSTER_SIZE rows come last; when clusters run out the
    walk starts again, so k items are always returned if the pool has them. On big pools the
    clustering runs on a random sample of MAX_KMEANS_ROWS pool rows (plus every labelled row);
    sparse rows (TF-IDF) are first reduced to SVD_COMPONENTS dense dimensions, by an SVD of
    the clustered rows or, when given, by `basis` (see `svd_basis`).

    Args:
        pool: unlabelled features (n, d), dense or sparse (rows L2-normalised for cosine).
        labeled: labelled features (L, d), or None for none.
        k: how many items; capped at n.
        rng: seeds the sample and k-means.
        basis: (d, c) projection of sparse rows (`svd_basis` of the pool), fitted once for
            many calls; None fits an SVD on the clustered rows. Unused for dense rows.

    Returns:
        int (intp) array of shape (min(k, n),), distinct row indices of `pool`, in pick order.
    """
    n = pool.shape[0]
    k = min(k, n)
    if k <= 0:
        return np.empty(0, dtype=np.intp)
    sample = _sample(n, rng)
    rows = pool[sample] if sample is not None else pool[:]  # [:] reads lazy row views too
    n_labeled = 0 if labeled is None else labeled.shape[0]
    if labeled is not None and n_labeled:
        rows = sp.vstack([rows, labeled]).tocsr() if is_sparse(rows) else np.vstack([rows, labeled])
    if is_sparse(rows):  # k-means centres over a TF-IDF vocabulary would be huge and slow
        rows = _reduced(rows, rng) if basis is None else reduce_rows(rows, basis)
    n_clusters = min(n_labeled + k, MAX_CLUSTERS, rows.shape[0])
    kmeans = _kmeans(n_clusters, rows.shape[0], rng, batch_size=4096, inits=1)
    assignment = kmeans.fit_predict(rows)
    n_pool_rows = rows.shape[0] - n_labeled
    sizes = np.bincount(assignment[:n_pool_rows], minlength=n_clusters)
    covered = np.bincount(assignment[n_pool_rows:], minlength=n_clusters)
    picked = _typical_walk(rows[:n_pool_rows], assignment[:n_pool_rows], sizes, covered, k)
    return sample[picked] if sample is not None else picked


def _reduced(X: sp.spmatrix, rng: np.random.Generator) -> np.ndarray:
    """Sparse rows as SVD_COMPONENTS-d dense rows (truncated SVD, latent semantic analysis),
    L2-normalised so distances stay cosine-like."""
    components = min(SVD_COMPONENTS, X.shape[1] - 1, X.shape[0] - 1)
    if components < 1:
        return X.toarray()
    seed = int(rng.integers(2**31 - 1))
    return _normalised(TruncatedSVD(components, random_state=seed).fit_transform(X))


def svd_basis(X: Matrix, *, rng: np.random.Generator) -> np.ndarray:
    """The pool's top SVD_COMPONENTS right singular vectors, for `typical_items(basis=...)`.

    Fitted on a random sample of MAX_KMEANS_ROWS rows of a bigger pool, as `typical_items`
    would fit it on the rows it clusters.

    Args:
        X: pool features (n, d), sparse (TF-IDF) or dense, n and d above SVD_COMPONENTS.
        rng: seeds the sample and the randomised SVD.

    Returns:
        float32 array of shape (d, SVD_COMPONENTS): `X @ basis` are the rows' LSA coordinates.

    Raises:
        ValueError: the pool has SVD_COMPONENTS rows or columns or fewer.
    """
    if min(X.shape) <= SVD_COMPONENTS:
        raise ValueError(f"an SVD basis needs more than {SVD_COMPONENTS} rows and columns")
    sample = _sample(X.shape[0], rng)
    rows = X[sample] if sample is not None else X[:]
    seed = int(rng.integers(2**31 - 1))
    svd = TruncatedSVD(SVD_COMPONENTS, random_state=seed).fit(rows)
    return np.ascontiguousarray(svd.components_.T, dtype=np.float32)


def reduce_rows(X: Matrix, basis: np.ndarray) -> np.ndarray:
    """Rows of X in the basis's coordinates, L2-normalised (what `_reduced` gives).

    Args:
        X: (n, d) sparse or dense rows.
        basis: (d, c), from `svd_basis`.

    Returns:
        float32 array of shape (n, c), as the SVD of float32 TF-IDF rows gives.
    """
    if X.shape[1] != basis.shape[0]:
        raise ValueError(f"rows have {X.shape[1]} columns, the basis {basis.shape[0]}")
    return _normalised(np.asarray(X @ basis, dtype=np.float32))


def _normalised(dense: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(dense, axis=1, keepdims=True)
    return dense / np.maximum(norms, 1e-12)


def _typical_walk(
    X: Matrix, assignment: np.ndarray, sizes: np.ndarray, covered: np.ndarray, k: int
) -> np.ndarray:
    """Rows of X, the most typical unpicked row of each cluster in TypiClust's order, k in all.

    `sizes` and `covered` count the pool rows and the labelled rows of each cluster.
    """
    small = sizes < MIN_CLUSTER_SIZE
    order = np.lexsort((-sizes, covered, small))  # big enough, fewest labelled, largest
    order = order[sizes[order] > 0]
    ranked: dict[int, np.ndarray] = {}  # a cluster's rows, most typical first, when visited
    picked: list[int] = []
    depth = 0
    while len(picked) < k:  # one pass per round: the depth-th most typical row of each cluster
        for cluster in order.tolist():
            if cluster not in ranked:
                rows = np.flatnonzero(assignment == cluster)
                ranked[cluster] = rows[np.argsort(_atypicality(X[rows]), kind="stable")]
            if depth < ranked[cluster].size:
                picked.append(int(ranked[cluster][depth]))
                if len(picked) == k:
                    break
        depth += 1
    return np.array(picked, dtype=np.intp)


def _atypicality(X: Matrix, block: int = 1024) -> np.ndarray:
    """Mean distance of each row to its nearest neighbours among the rows (lower = typical).

    Blocks of `block` rows at a time: O(block * m) memory for m rows.
    """
    m = X.shape[0]
    if m <= 2:
        return np.zeros(m)
    neighbours = max(1, min(TYPICALITY_NEIGHBOURS, m // 2))
    squared = row_norms(X) ** 2
    out = np.empty(m)
    for start in range(0, m, block):
        dots = X[start : start + block] @ X.T
        dots = dots.toarray() if is_sparse(dots) else np.asarray(dots, dtype=np.float64)
        rows = np.arange(start, start + dots.shape[0])
        distance = squared[rows, None] + squared[None, :] - 2.0 * dots
        distance[np.arange(rows.size), rows] = np.inf  # not its own neighbour
        nearest = np.partition(distance, neighbours - 1, axis=1)[:, :neighbours]
        out[rows] = np.sqrt(np.maximum(nearest, 0.0)).mean(axis=1)
    return out


def _nearest_per_centroid(X: Matrix, centers: np.ndarray, assignment: np.ndarray) -> np.ndarray:
    """For each centroid (largest cluster first), the nearest row of X not yet picked."""
    dots = X @ centers.T.astype(X.dtype, copy=False)
    dots = dots.toarray() if is_sparse(dots) else np.asarray(dots)
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


IMBALANCE_P_VALUE = 0.01


def looks_imbalanced(counts: np.ndarray, p_value: float = IMBALANCE_P_VALUE) -> bool:
    """Whether labels per class this uneven are unlikely from classes of equal size.

    A chi-square test of the counts (every class, unseen ones as 0) against equal shares.
    Typical-item batches sample about evenly across classes of equal size, so a balanced
    project keeps passing; one where a few classes dominate fails after a few batches.

    Args:
        counts: (K,) labels per class, K >= 2.
        p_value: the test's threshold (0.01: bench/README.md, "Imbalanced label sets").
    """
    from scipy.stats import chisquare

    counts = np.asarray(counts, dtype=np.float64)
    if counts.size < 2 or counts.sum() < 2 * counts.size**0.5:
        return False
    return bool(chisquare(counts).pvalue < p_value)
