"""Cold start: k-means representatives and TypiClust typical items cover the clusters;
exploration slots are spread evenly."""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_array_equal

from app.learning import coldstart
from app.learning.coldstart import (
    exploration_positions,
    looks_imbalanced,
    representative_items,
    typical_items,
)


def _clusters(sizes: list[int], d: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unit-norm rows around len(sizes) orthogonal directions, and each row's cluster."""
    rng = np.random.default_rng(seed)
    cluster = np.repeat(np.arange(len(sizes)), sizes)
    X = np.eye(d)[cluster] + rng.normal(scale=0.1, size=(cluster.size, d))
    return X / np.linalg.norm(X, axis=1, keepdims=True), cluster


def test_one_representative_per_cluster_largest_first() -> None:
    X, cluster = _clusters([40, 10, 25, 5])
    picked = representative_items(X, 4, rng=np.random.default_rng(0))
    assert_array_equal(cluster[picked], [0, 2, 1, 3])


def test_representatives_are_near_their_cluster_centre() -> None:
    X, cluster = _clusters([30, 30])
    picked = representative_items(X, 2, rng=np.random.default_rng(0))
    for item in picked:
        members = X[cluster == cluster[item]]
        distance = np.linalg.norm(members - members.mean(axis=0), axis=1)
        assert np.linalg.norm(X[item] - members.mean(axis=0)) <= np.quantile(distance, 0.25)


def test_sparse_features_and_distinct_items() -> None:
    X, cluster = _clusters([20, 20, 20])
    picked = representative_items(sp.csr_matrix(X), 10, rng=np.random.default_rng(1))
    assert picked.shape == (10,) and np.unique(picked).size == 10
    assert set(cluster[picked]) == {0, 1, 2}


def test_k_is_capped_at_the_pool_size() -> None:
    X, _ = _clusters([2, 1])
    picked = representative_items(X, 10, rng=np.random.default_rng(0))
    assert sorted(picked) == [0, 1, 2]
    assert representative_items(X, 0, rng=np.random.default_rng(0)).shape == (0,)


def test_big_pools_cluster_a_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(coldstart, "MAX_KMEANS_ROWS", 300)
    X, cluster = _clusters([500, 500, 500])
    picked = representative_items(X, 3, rng=np.random.default_rng(0))
    assert sorted(cluster[picked]) == [0, 1, 2]
    assert picked.max() < 1500


def test_is_deterministic_for_a_seed() -> None:
    X, _ = _clusters([30, 30, 30])
    first = representative_items(X, 5, rng=np.random.default_rng(7))
    second = representative_items(X, 5, rng=np.random.default_rng(7))
    assert_array_equal(first, second)


def test_typical_items_go_to_the_clusters_without_labels_first() -> None:
    X, cluster = _clusters([40, 40, 40, 40, 40])
    labeled, _ = _clusters([3, 3, 3, 0, 0], seed=1)  # clusters 0-2 already labelled
    picked = typical_items(X, labeled, 2, rng=np.random.default_rng(0))
    assert sorted(cluster[picked]) == [3, 4]


def test_typical_items_are_the_dense_rows_of_their_cluster() -> None:
    rng = np.random.default_rng(3)
    core = np.array([1.0, 0.0, 0.0]) + rng.normal(scale=0.02, size=(30, 3))
    fringe = np.array([1.0, 0.0, 0.0]) + rng.normal(scale=0.5, size=(10, 3))
    X = np.vstack([fringe, core])
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    picked = typical_items(X, None, 1, rng=np.random.default_rng(0))
    assert picked[0] >= 10  # a row of the dense core, not of the fringe


def test_typical_items_fill_k_when_clusters_run_out() -> None:
    X, cluster = _clusters([20, 20])
    picked = typical_items(X, X[:3], 7, rng=np.random.default_rng(2))
    assert picked.shape == (7,) and np.unique(picked).size == 7
    assert set(cluster[picked]) == {0, 1}
    assert typical_items(X, None, 0, rng=np.random.default_rng(0)).shape == (0,)
    assert sorted(typical_items(X[:4], None, 9, rng=np.random.default_rng(0))) == [0, 1, 2, 3]


def test_typical_items_on_sparse_rows_and_big_pools(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(coldstart, "MAX_KMEANS_ROWS", 300)
    X, cluster = _clusters([500, 500, 500])
    labeled = sp.csr_matrix(X[:2])  # cluster 0 is covered
    picked = typical_items(sp.csr_matrix(X), labeled, 2, rng=np.random.default_rng(0))
    assert sorted(cluster[picked]) == [1, 2]
    first = typical_items(X, X[:2], 3, rng=np.random.default_rng(5))
    assert_array_equal(first, typical_items(X, X[:2], 3, rng=np.random.default_rng(5)))


def test_typical_items_with_a_basis_fitted_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A basis fitted on the pool once stands in for the SVD of each call's rows."""
    monkeypatch.setattr(coldstart, "MAX_KMEANS_ROWS", 300)
    monkeypatch.setattr(coldstart, "SVD_COMPONENTS", 4)
    X, cluster = _clusters([500, 500, 500])
    pool = sp.csr_matrix(X)
    basis = coldstart.svd_basis(pool, rng=np.random.default_rng(1))
    assert basis.shape == (8, 4) and basis.dtype == np.float32
    reduced = coldstart.reduce_rows(pool, basis)
    assert reduced.shape == (1500, 4) and np.allclose(np.linalg.norm(reduced, axis=1), 1)
    labeled = pool[:2]  # cluster 0 is covered
    for seed in range(3):
        picked = typical_items(pool, labeled, 2, rng=np.random.default_rng(seed), basis=basis)
        assert sorted(cluster[picked]) == [1, 2]
    with pytest.raises(ValueError, match="columns"):  # the basis is what reduces the rows
        typical_items(pool, labeled, 2, rng=np.random.default_rng(0), basis=basis[:6])
    with pytest.raises(ValueError, match="rows and columns"):
        coldstart.svd_basis(pool[:4], rng=np.random.default_rng(0))


def test_atypicality_in_blocks_equals_one_block() -> None:
    X, _ = _clusters([30, 25])
    assert np.allclose(coldstart._atypicality(X, block=7), coldstart._atypicality(X))


@pytest.mark.parametrize(
    ("depth", "epsilon", "expected"),
    [(20, 0.2, [4, 9, 14, 19]), (10, 0.0, []), (3, 1.0, [0, 1, 2]), (25, 0.1, [11, 24])],
)
def test_exploration_positions(depth: int, epsilon: float, expected: list[int]) -> None:
    assert_array_equal(exploration_positions(depth, epsilon), expected)


def test_exploration_share_must_be_a_fraction() -> None:
    with pytest.raises(ValueError, match="epsilon"):
        exploration_positions(10, 1.5)


def test_labels_look_imbalanced_only_when_a_few_classes_dominate() -> None:
    rng = np.random.default_rng(0)
    k = 77
    balanced = np.bincount(rng.integers(0, k, size=100), minlength=k)
    shares = np.arange(1, k + 1, dtype=float) ** -(np.log(50) / np.log(k))  # 50x largest/smallest
    zipf = np.bincount(rng.choice(k, size=100, p=shares / shares.sum()), minlength=k)
    assert not looks_imbalanced(balanced) and looks_imbalanced(zipf)
    assert looks_imbalanced(np.array([30, 2])) and not looks_imbalanced(np.array([16, 14]))
    assert not looks_imbalanced(np.array([3, 0, 0]))  # too few labels to tell
    assert not looks_imbalanced(np.array([5]))
