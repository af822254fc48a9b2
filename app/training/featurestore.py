"""The pool's feature matrix, cached on disk so re-scoring never re-featurises.

TF-IDF: the featuriser is fitted on every text of the project when the pool changes (an
import bumps ``Project.pool_version``); retrains in between reuse the cached matrix.
MiniLM: vectors are computed once per item and kept in an ``EmbeddingStore``. A project's
``features`` option picks one of ``FEATURE_KINDS`` (both = side by side, see
``app.learning.features.pool_features``).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from app.learning.features import FEATURE_KINDS, TfidfFeaturizer, pool_features
from app.training import artifacts
from app.training.embeddingstore import EmbeddingStore, encoder_key


@dataclass(frozen=True)
class PoolFeatures:
    """Rows of ``matrix`` belong to ``item_ids`` (sorted ascending), shape (n_items, d).

    ``featurizer_path`` / ``featurizer_sha256`` name the fitted TF-IDF featuriser (None for
    MiniLM-only features); ``embedder`` the embedding cache key (None for TF-IDF only).
    """

    item_ids: np.ndarray
    matrix: sp.csr_matrix | np.ndarray
    featurizer_path: Path | None
    featurizer_sha256: str | None
    kind: str = "tfidf"
    embedder: str | None = None
    embedded_now: int = 0

    def rows(self, ids: Sequence[int] | np.ndarray) -> sp.csr_matrix | np.ndarray:
        """Feature rows for ``ids`` (each must be in the pool), shape (len(ids), d)."""
        ids = np.asarray(ids, dtype=np.int64)
        pos = np.searchsorted(self.item_ids, ids)
        if len(ids) and (pos.max() >= len(self.item_ids) or (self.item_ids[pos] != ids).any()):
            raise KeyError("item ids missing from the feature cache")
        return self.matrix[pos]


def _paths(directory: Path, pool_version: int) -> tuple[Path, Path, Path, Path]:
    stem = directory / f"pool-{pool_version}"
    return (
        stem.with_suffix(".npz"),
        stem.with_name(stem.name + "-ids.npy"),
        stem.with_name(stem.name + "-featurizer.joblib"),
        stem.with_suffix(".json"),
    )


def load(
    project_dir: Path,
    kind: str,
    pool_version: int,
    item_ids: np.ndarray,
    texts: Callable[[], list[str]],
    texts_of: Callable[[np.ndarray], list[str]],
) -> PoolFeatures:
    """The pool's features of ``kind``, from the caches under ``project_dir``.

    Args:
        kind: one of FEATURE_KINDS.
        item_ids: (n,) int64 ids of every item of the project, ascending.
        texts: all n texts in ``item_ids`` order (called only to refit TF-IDF).
        texts_of: the texts of some ids (ascending), for the items not yet embedded.
    """
    if kind not in FEATURE_KINDS:
        raise ValueError(f"unknown feature kind {kind!r}; known: {', '.join(FEATURE_KINDS)}")
    tfidf = embeddings = None
    embedded_now = 0
    if kind in ("tfidf", "both"):
        tfidf = load_or_build(project_dir / "features", pool_version, item_ids, texts)
    if kind in ("minilm", "both"):
        store = EmbeddingStore(project_dir / "embeddings")
        embeddings, embedded_now = store.load(item_ids, texts_of)
    matrix = pool_features(kind, tfidf=tfidf.matrix if tfidf else None, embeddings=embeddings)
    return PoolFeatures(
        item_ids,
        matrix,
        tfidf.featurizer_path if tfidf else None,
        tfidf.featurizer_sha256 if tfidf else None,
        kind=kind,
        embedder=encoder_key() if embeddings is not None else None,
        embedded_now=embedded_now,
    )


# The last few TF-IDF matrices this process loaded, so a worker re-ranking the same project
# again does not read the matrix from disk every time (a second at 100k items).
_MEMORY: OrderedDict[tuple[str, int], PoolFeatures] = OrderedDict()
_MEMORY_ENTRIES = 2
_memory_lock = threading.Lock()


def load_or_build(
    directory: Path,
    pool_version: int,
    item_ids: np.ndarray,
    texts: Callable[[], list[str]],
) -> PoolFeatures:
    """The TF-IDF cache for ``pool_version`` if it covers exactly ``item_ids``, else build it.

    Args:
        item_ids: (n,) int64 ids of every item of the project, ascending.
        texts: called only when building; returns the n texts in ``item_ids`` order.
    """
    key = (str(directory), pool_version)
    with _memory_lock:
        kept = _MEMORY.get(key)
        if kept is not None and np.array_equal(kept.item_ids, item_ids):
            _MEMORY.move_to_end(key)
            return kept
    features = _load_or_build(directory, pool_version, item_ids, texts)
    with _memory_lock:
        _MEMORY[key] = features
        while len(_MEMORY) > _MEMORY_ENTRIES:
            _MEMORY.popitem(last=False)
    return features


def _load_or_build(
    directory: Path,
    pool_version: int,
    item_ids: np.ndarray,
    texts: Callable[[], list[str]],
) -> PoolFeatures:
    matrix_path, ids_path, featurizer_path, meta_path = _paths(directory, pool_version)
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        cached_ids = np.load(ids_path)
        if np.array_equal(cached_ids, item_ids):
            return PoolFeatures(
                cached_ids, sp.load_npz(matrix_path).tocsr(), featurizer_path, meta["sha256"]
            )
    featurizer = TfidfFeaturizer()
    matrix = featurizer.fit_transform(texts())
    directory.mkdir(parents=True, exist_ok=True)
    sha = artifacts.save(featurizer, featurizer_path)
    sp.save_npz(matrix_path, matrix, compressed=False)
    np.save(ids_path, item_ids)
    meta_path.write_text(json.dumps({"sha256": sha, "n_items": len(item_ids)}))
    _prune(directory, keep=pool_version)
    return PoolFeatures(item_ids, matrix, featurizer_path, sha)


def _prune(directory: Path, *, keep: int) -> None:
    """Remove caches of older pool versions (published models keep their featuriser)."""
    for path in directory.glob("pool-*"):
        version = path.name.split("-")[1].split(".")[0]
        if version.isdigit() and int(version) < keep and "featurizer" not in path.name:
            path.unlink(missing_ok=True)
