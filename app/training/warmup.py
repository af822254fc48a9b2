"""The warm-up's SVD basis of a TF-IDF pool, fitted once per feature cache and kept on disk.

A warm-up batch clusters sparse rows in `coldstart.SVD_COMPONENTS` LSA dimensions; fitting that
SVD on a fresh 20k-row sample was most of a warm-up run at 100k items (`bench/rerank.py
--api`, bench/README.md), yet the pool's features do not change from one batch to the next.
So the basis is fitted once per pool version and featuriser, on a seeded sample of the pool,
and each batch projects the rows it clusters onto it. Equivalent in what is ranked: each batch
still clusters a fresh random sample plus the labelled rows; only the LSA axes come from a
sample of the same pool drawn once (the labelled rows, a small share of the pool, are
projected onto them rather than fitted).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp

from app.learning import coldstart
from app.training import featurestore, mapped
from app.training.snapshot import Snapshot

DIRECTORY = "warmup"
STORED = np.dtype(np.float16)  # as the pool's TF-IDF values are stored (``mapped.VALUES``)


def basis(project_dir: Path, snap: Snapshot, feats: featurestore.PoolFeatures) -> np.ndarray | None:
    """The pool's (d, SVD_COMPONENTS) float32 SVD basis, from the cache or fitted and stored.

    None when the warm-up does not reduce the features (dense rows, e.g. MiniLM) or the pool
    is too small for the basis (`typical_items` then fits its own, as before).
    """
    matrix = feats.matrix
    if not isinstance(matrix, mapped.MappedCSR | sp.csr_matrix) or feats.featurizer_sha256 is None:
        return None
    if min(matrix.shape) <= coldstart.SVD_COMPONENTS:
        return None
    name = f"svd-{feats.kind}-{snap.pool_version}-{feats.featurizer_sha256[:16]}.npy"
    path = project_dir / DIRECTORY / name
    cached = _read(path, matrix.shape[1])
    if cached is not None:
        return cached
    rng = np.random.default_rng([snap.random_seed, snap.pool_version])
    stored = coldstart.svd_basis(matrix, rng=rng).astype(STORED)
    mapped.save_replacing(path, stored, "svd-*.npy")
    return stored.astype(np.float32)


def _read(path: Path, n_columns: int) -> np.ndarray | None:
    """The stored basis, if it is there, whole and of the pool's width."""
    try:
        stored = np.load(path)
    except (OSError, ValueError):
        return None
    if stored.ndim != 2 or stored.shape != (n_columns, coldstart.SVD_COMPONENTS):
        return None
    return np.asarray(stored, dtype=np.float32)
