"""Row norms, information density (O(n) memory, checked at n = 200k) and farthest-first."""

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal

from app.learning.diversity import (
    best_per_cluster,
    density_weighted,
    farthest_first,
    gradient_norms,
    information_density,
    row_norms,
)


def _brute_force_density(X: np.ndarray) -> np.ndarray:
    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    return (unit @ unit.T).mean(axis=1)


def test_row_norms_of_sparse_and_dense_agree() -> None:
    X = np.random.default_rng(0).normal(size=(20, 5))
    assert_allclose(row_norms(X), np.linalg.norm(X, axis=1))
    assert_allclose(row_norms(sp.csr_matrix(X)), np.linalg.norm(X, axis=1))
    assert_allclose(gradient_norms(X), np.sqrt(np.linalg.norm(X, axis=1) ** 2 + 1))
    assert_allclose(gradient_norms(X, intercept=False), np.linalg.norm(X, axis=1))


@pytest.mark.parametrize("sparse", [False, True])
def test_density_is_the_mean_cosine_similarity_to_the_pool(sparse: bool) -> None:
    X = np.random.default_rng(0).normal(size=(50, 6)) + 0.5
    density = information_density(sp.csr_matrix(X) if sparse else X)
    assert density.shape == (50,)
    assert_allclose(density, _brute_force_density(X), atol=1e-10)


def test_density_favours_the_crowd_over_the_outlier() -> None:
    rng = np.random.default_rng(1)
    crowd = np.array([1.0, 0.0, 0.0]) + rng.normal(scale=0.1, size=(30, 3))
    X = np.vstack([crowd, [[0.0, 0.0, 1.0]]])
    density = information_density(X)
    assert density[-1] < density[:-1].min()


def test_density_of_a_zero_row_is_zero() -> None:
    X = sp.csr_matrix(np.array([[1.0, 0.0], [0.0, 0.0], [1.0, 1.0]]))
    density = information_density(X)
    assert density[1] == 0.0 and np.all(np.isfinite(density))


def test_density_never_allocates_an_n_by_n_matrix() -> None:
    n, d = 200_000, 16
    X = np.random.default_rng(0).random((n, d), dtype=np.float32)  # 12.8 MB
    tracemalloc.start()
    try:
        density = information_density(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert density.shape == (n,)
    # A few (n,) float64 vectors: ~5.4 MiB measured. A copy of X would add 12.2 MiB, one
    # 1000-row block of the n x n similarity matrix 760 MiB.
    assert peak < 12 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"


def test_sparse_density_at_200k_stays_linear() -> None:
    n, d, per_row = 200_000, 1_000, 5
    rng = np.random.default_rng(0)
    indices = rng.integers(0, d, size=n * per_row)
    data = rng.random(n * per_row, dtype=np.float32)
    X = sp.csr_matrix((data, indices, np.arange(0, n * per_row + 1, per_row)), shape=(n, d))
    tracemalloc.start()
    try:
        information_density(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 12 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"  # X itself is 8 MiB


def test_density_weighting() -> None:
    scores, density = np.array([1.0, 1.0, 2.0]), np.array([0.5, -0.2, 1.0])
    assert_allclose(density_weighted(scores, density, 1.0), [0.5, 0.0, 2.0])
    assert_allclose(density_weighted(scores, density, 2.0), [0.25, 0.0, 2.0])
    assert_array_equal(density_weighted(scores, density, 0.0), scores)
    with pytest.raises(ValueError, match="power"):
        density_weighted(scores, density, -1.0)


def _brute_force_k_center(X: np.ndarray, k: int, first: int = 0) -> list[int]:
    chosen = [first]
    while len(chosen) < k:
        distance = np.linalg.norm(X[:, None, :] - X[None, chosen, :], axis=2).min(axis=1)
        distance[chosen] = -1
        chosen.append(int(np.argmax(distance)))
    return chosen


@pytest.mark.parametrize("sparse", [False, True])
def test_farthest_first_matches_the_brute_force_k_center(sparse: bool) -> None:
    X = np.random.default_rng(3).normal(size=(60, 4))
    picked = farthest_first(sp.csr_matrix(X) if sparse else X, 8)
    assert_array_equal(picked, _brute_force_k_center(X, 8))


def test_farthest_first_skips_near_duplicates() -> None:
    rng = np.random.default_rng(0)
    centers = np.eye(5)
    X = np.repeat(centers, 10, axis=0) + rng.normal(scale=0.01, size=(50, 5))
    picked = farthest_first(X, 5)
    assert sorted(picked // 10) == [0, 1, 2, 3, 4]  # one per cluster, not five duplicates
    assert picked[0] == 0


def test_farthest_first_keeps_away_from_labelled_rows() -> None:
    X = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0], [-6.0, 5.0]])
    picked = farthest_first(X, 2, labeled=np.array([[-6.0, 5.1]]))
    assert_array_equal(picked, [0, 3])  # not row 4, right next to the labelled row
    assert_array_equal(farthest_first(X, 2), [0, 4])


def test_farthest_first_edge_cases() -> None:
    X = np.ones((3, 2))
    assert_array_equal(farthest_first(X, 0), np.empty(0, dtype=np.intp))
    picked = farthest_first(X, 10)  # identical rows, k beyond m: distinct rows, lowest first
    assert_array_equal(picked, [0, 1, 2])


def test_best_per_cluster_takes_the_first_row_of_each_group() -> None:
    rng = np.random.default_rng(0)
    group = np.array([0, 0, 1, 0, 2, 1, 2, 3, 3, 0])  # rows in score order
    X = np.eye(4)[group] * 5 + rng.normal(scale=0.05, size=(10, 4))
    picked = best_per_cluster(X, 4, rng=np.random.default_rng(0))
    assert_array_equal(picked, [0, 2, 4, 7])  # the best-scored row of every group


def test_best_per_cluster_prefers_the_crowd_to_the_outlier() -> None:
    # farthest-first would take the far outlier (row 5); clustering takes one per dense group.
    X = np.array([[0.0, 0.0], [0.1, 0.0], [3.0, 0.0], [3.1, 0.0], [0.0, 0.1], [40.0, 40.0]])
    assert 5 in farthest_first(X, 2)
    assert_array_equal(best_per_cluster(X[:5], 2, rng=np.random.default_rng(0)), [0, 2])


def test_best_per_cluster_edge_cases() -> None:
    X = np.random.default_rng(0).normal(size=(3, 2))
    assert_array_equal(best_per_cluster(X, 5, rng=np.random.default_rng(0)), [0, 1, 2])
    assert best_per_cluster(X, 0, rng=np.random.default_rng(0)).shape == (0,)
