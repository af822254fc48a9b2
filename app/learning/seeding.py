"""k-means++ seeding of float32 rows, with scikit-learn's picks at a third of its time.

scikit-learn seeds float32 rows by computing each round's candidate distances in float64
chunks: every round converts the whole (init-size) sample to float64 again and recomputes its
norms. On the warm-up's 12,288-row sample with ~250 clusters that is 1 s of a 1.3 s
clustering (`bench/README.md`, "After the switch to MiniLM"). Here the sample is converted
once and its norms computed once; each distance is still computed in float64 in the same
order and rounded to float32, and the random draws are the same, so the picks are the same
(`tests/learning/test_seeding.py` compares them with scikit-learn's own).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import KMeans, MiniBatchKMeans


def kmeans_plusplus(
    X: np.ndarray, n_clusters: int, random_state: np.random.RandomState, sample_weight: np.ndarray
) -> np.ndarray:
    """Greedy k-means++ centres of dense float32 rows, as scikit-learn's ``_kmeans_plusplus``.

    Args:
        X: (n, d) float32 rows.
        n_clusters: centres to pick.
        random_state: the legacy generator scikit-learn passes around (consumed as it would be).
        sample_weight: (n,) float32 weights.

    Returns:
        (n_clusters, d) float32 centres, rows of X.
    """
    rows64 = X.astype(np.float64)
    norms = np.einsum("ij,ij->i", rows64, rows64)[None, :]

    def distances(ids: Any) -> np.ndarray:  # squared, as sklearn's upcast: float64, then float32
        chosen = rows64[ids]
        d = -2 * (chosen @ rows64.T)
        d += np.einsum("ij,ij->i", chosen, chosen)[:, None]
        d += norms
        return d.astype(np.float32)

    trials = 2 + int(np.log(n_clusters))
    first = random_state.choice(X.shape[0], p=sample_weight / sample_weight.sum())
    picked = [int(first)]
    closest = distances([first])
    potential = closest @ sample_weight
    for _ in range(1, n_clusters):
        draws = random_state.uniform(size=trials) * potential
        candidates = np.searchsorted(np.cumsum(sample_weight * closest), draws)
        np.clip(candidates, None, closest.size - 1, out=candidates)
        to_candidates = distances(candidates)
        np.minimum(closest, to_candidates, out=to_candidates)
        potentials = to_candidates @ sample_weight.reshape(-1, 1)
        best = int(np.argmin(potentials))
        potential, closest = potentials[best], to_candidates[best]
        picked.append(int(candidates[best]))
    return X[picked]


class _FastSeeding:
    """Replaces the k-means++ seeding of dense float32 rows; anything else is scikit-learn's."""

    def _init_centroids(  # the signature of sklearn's _BaseKMeans._init_centroids
        self,
        X: Any,
        x_squared_norms: np.ndarray,
        init: Any,
        random_state: np.random.RandomState,
        sample_weight: np.ndarray,
        init_size: int | None = None,
        n_centroids: int | None = None,
    ) -> np.ndarray:
        dense32 = not sp.issparse(X) and X.dtype == np.float32
        if not (dense32 and isinstance(init, str) and init == "k-means++"):
            return super()._init_centroids(  # type: ignore[misc]
                X, x_squared_norms, init, random_state, sample_weight, init_size, n_centroids
            )
        if init_size is not None and init_size < X.shape[0]:
            rows = random_state.randint(0, X.shape[0], init_size)  # as sklearn draws them
            X, sample_weight = X[rows], sample_weight[rows]
        n_clusters = self.n_clusters if n_centroids is None else n_centroids  # type: ignore[attr-defined]
        return kmeans_plusplus(X, n_clusters, random_state, sample_weight)


class FastKMeans(_FastSeeding, KMeans):
    """scikit-learn's KMeans, seeded by ``kmeans_plusplus`` on float32 rows."""


class FastMiniBatchKMeans(_FastSeeding, MiniBatchKMeans):
    """scikit-learn's MiniBatchKMeans, seeded by ``kmeans_plusplus`` on float32 rows."""
