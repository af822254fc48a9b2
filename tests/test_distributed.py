"""The Dask backend gives the local path's results: scores, top-100 and embeddings.

A `LocalCluster` of 2 worker processes (1 thread each, localhost only) scores a 200k-row pool
of 384-d unit vectors over 10 classes. Dask workers run BLAS single-threaded (as `labelloop
worker` does by default), so the local side is scored with one BLAS thread too and the scores
are compared bit for bit; with a different BLAS thread count they agree to ~1e-6.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from app.learning.committee import Committee
from app.learning.estimators import LabelModel
from app.learning.strategies import select_top_k
from app.scaling import LOCAL, StoredPool, backend_for
from app.scaling.dask_backend import DaskBackend
from app.scaling.tasks import encoder_build_count

POOL_ROWS, DIM, CLASSES, LABELLED = 200_000, 384, 10, 2_000


def synthetic_pool(n: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n, 384) float32 unit rows around 10 class centres, and their (n,) classes."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(CLASSES, DIM)).astype(np.float32)
    y = rng.integers(0, CLASSES, n)
    X = 0.35 * centres[y] + rng.normal(size=(n, DIM)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X, y


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    distributed = pytest.importorskip("distributed")
    try:
        cluster = distributed.LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=None,
        )
    except Exception as exc:  # noqa: BLE001 - any failure to start means: cannot test here
        pytest.skip(f"dask cannot start a local cluster of 2 worker processes: {exc}")
    with cluster, distributed.Client(cluster) as connected:
        yield connected


@pytest.fixture(scope="module")
def dask_backend(client: Any) -> DaskBackend:
    return DaskBackend(client)


@pytest.fixture(scope="module")
def pool() -> tuple[np.ndarray, np.ndarray]:
    return synthetic_pool(POOL_ROWS)


@pytest.fixture(scope="module")
def models(pool: tuple[np.ndarray, np.ndarray]) -> dict[str, LabelModel | Committee]:
    X, y = pool
    model = LabelModel(CLASSES).fit(X[:LABELLED], y[:LABELLED])
    committee = Committee(CLASSES, n_members=3, tol=1e-2, max_iter=100)
    return {"model": model, "committee": committee.fit(X[:LABELLED], y[:LABELLED])}


def local_scores(strategy: str, model: Any, X: Any, **kwargs: Any) -> np.ndarray:
    with threadpool_limits(limits=1):
        return LOCAL.score(strategy, model, X, **kwargs)


@pytest.mark.process  # the module's cluster runs 2 worker processes
@pytest.mark.parametrize(
    ("strategy", "kind"),
    [
        ("margin", "model"),
        ("entropy", "model"),
        ("random", "model"),
        ("qbc_vote_entropy", "committee"),
    ],
)
def test_dask_scores_the_pool_as_the_local_path(
    dask_backend: DaskBackend,
    pool: tuple[np.ndarray, np.ndarray],
    models: dict[str, Any],
    strategy: str,
    kind: str,
) -> None:
    X = pool[0][LABELLED:]
    local_rng, dask_rng = np.random.default_rng([7, 1]), np.random.default_rng([7, 1])
    expected = local_scores(strategy, models[kind], X, rng=local_rng)
    scores = dask_backend.score(strategy, models[kind], X, rng=dask_rng)
    assert scores.dtype == np.float64 and scores.shape == (POOL_ROWS - LABELLED,)
    np.testing.assert_array_equal(scores, expected)
    np.testing.assert_array_equal(select_top_k(scores, 100), select_top_k(expected, 100))
    # the ranking stage after scoring draws from the same generator: it must be where the
    # local path left it ("random" drew one number per row, the others none)
    assert dask_rng.random() == local_rng.random()


@pytest.mark.process  # the module's cluster runs 2 worker processes
def test_workers_read_a_stored_pool_and_score_a_row_selection(
    dask_backend: DaskBackend,
    pool: tuple[np.ndarray, np.ndarray],
    models: dict[str, Any],
    tmp_path: Path,
) -> None:
    X = pool[0][:100_000]
    stored = StoredPool.write(tmp_path / "pool", X)
    rows = np.flatnonzero(np.arange(X.shape[0]) % 3 != 0)  # "the unlabelled rows"
    rng = np.random.default_rng(0)
    expected = local_scores("margin", models["model"], X[rows], rng=rng)
    scores = dask_backend.score("margin", models["model"], stored, rng=rng, rows=rows)
    np.testing.assert_array_equal(scores, expected)


@pytest.mark.process  # the module's cluster runs 2 worker processes
def test_a_sparse_stored_pool_scores_as_in_memory(
    dask_backend: DaskBackend, tmp_path: Path
) -> None:
    rng = np.random.default_rng(3)
    X = sp.random(20_000, 500, density=0.02, format="csr", random_state=4, dtype=np.float64)
    model = LabelModel(4).fit(X[:1_000], rng.integers(0, 4, 1_000))
    stored = StoredPool.write(tmp_path / "sparse", X)
    rows = np.arange(1, 20_000, 2)
    expected = local_scores("entropy", model, X[rows], rng=rng)
    got = dask_backend.score("entropy", model, stored, rng=rng, rows=rows)
    np.testing.assert_array_equal(got, expected)
    in_process = LOCAL.score("entropy", model, stored, rng=rng, rows=rows)
    np.testing.assert_array_equal(in_process, expected)


@pytest.mark.process  # the module's cluster runs 2 worker processes
def test_dask_embeds_texts_as_the_local_encoder(dask_backend: DaskBackend, client: Any) -> None:
    words = "card arrived late refund top up transfer pending exchange rate cash pin"
    texts = [" ".join(words.split()[: 2 + i % 11]) + f" order {i}" for i in range(200)]
    expected = LOCAL.encode(texts)
    embedded = dask_backend.encode(texts)
    assert embedded.shape == (200, 384) and embedded.dtype == np.float32
    np.testing.assert_allclose(embedded, expected, atol=1e-5)
    dask_backend.encode(texts[:50])
    assert set(client.run(encoder_build_count).values()) <= {0, 1}  # one encoder per worker


def test_an_unreachable_scheduler_scores_locally(models: dict[str, Any]) -> None:
    X = synthetic_pool(2_000, seed=1)[0]
    backend = DaskBackend("tcp://127.0.0.1:9", connect_timeout=0.5)
    rng = np.random.default_rng(1)
    scores = backend.score("margin", models["model"], X, rng=rng)
    np.testing.assert_array_equal(scores, LOCAL.score("margin", models["model"], X, rng=rng))


def test_backend_for_picks_local_without_an_address() -> None:
    assert backend_for(None) is LOCAL and backend_for("") is LOCAL
    assert backend_for("tcp://127.0.0.1:9") is backend_for("tcp://127.0.0.1:9")


@pytest.mark.parametrize("sparse", [False, True])
def test_stored_pool_reads_slices_and_rows(tmp_path: Path, sparse: bool) -> None:
    rng = np.random.default_rng(5)
    dense = rng.random((50, 7)) * (rng.random((50, 7)) < 0.3)
    matrix = sp.csr_matrix(dense) if sparse else dense
    stored = StoredPool.open(StoredPool.write(tmp_path / "p", matrix).path)
    assert stored.shape == (50, 7) and stored.kind == ("csr" if sparse else "dense")
    for index in (slice(10, 20), np.array([3, 0, 49, 3]), slice(5, 5), np.zeros(0, int)):
        got = stored.rows(index)
        np.testing.assert_array_equal(got.toarray() if sparse else got, dense[index])
