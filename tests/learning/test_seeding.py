"""k-means++ seeding of float32 rows: scikit-learn's picks and clusterings, exactly."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.cluster._kmeans import _kmeans_plusplus
from sklearn.utils.extmath import row_norms

from app.learning.seeding import FastKMeans, FastMiniBatchKMeans, kmeans_plusplus


def _rows(n: int, d: int, seed: int, dtype: type = np.float32) -> np.ndarray:
    """Unit rows around 30 centres, like sentence vectors of a few dozen intents."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(30, d))
    X = (centres[rng.integers(30, size=n)] + 0.8 * rng.normal(size=(n, d))).astype(dtype)
    return X / np.linalg.norm(X, axis=1, keepdims=True)


@pytest.mark.parametrize(("seed", "d", "k"), [(0, 256, 120), (1, 384, 200), (2, 64, 7)])
def test_picks_are_scikit_learns(seed: int, d: int, k: int) -> None:
    X = _rows(3000, d, seed)
    weights = np.ones(X.shape[0], dtype=np.float32)
    expected, _ = _kmeans_plusplus(
        X,
        k,
        random_state=np.random.RandomState(seed),
        x_squared_norms=row_norms(X, squared=True),
        sample_weight=weights,
    )
    ours = kmeans_plusplus(X, k, np.random.RandomState(seed), weights)
    assert ours.dtype == np.float32 and np.array_equal(ours, expected)


@pytest.mark.parametrize("seed", [0, 1])
def test_mini_batch_clustering_is_scikit_learns(seed: int) -> None:
    X = _rows(15_000, 128, seed)  # above the init sample of 3 x 4,096 rows: it is drawn too
    expected = MiniBatchKMeans(150, n_init=1, random_state=seed, batch_size=4096).fit(X)
    ours = FastMiniBatchKMeans(150, n_init=1, random_state=seed, batch_size=4096).fit(X)
    assert np.array_equal(ours.labels_, expected.labels_)
    assert np.array_equal(ours.cluster_centers_, expected.cluster_centers_)


def test_full_clustering_is_scikit_learns_and_float64_is_left_to_it() -> None:
    for dtype in (np.float32, np.float64):
        X = _rows(2000, 64, 3, dtype)
        expected = KMeans(40, n_init=1, random_state=3).fit_predict(X)
        assert np.array_equal(FastKMeans(40, n_init=1, random_state=3).fit_predict(X), expected)
