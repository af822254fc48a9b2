"""The pool's feature matrix, cached on disk so re-scoring never re-featurises.

TF-IDF: each pool version (an import bumps ``Project.pool_version``) has a cached matrix;
retrains in between reuse it. A new version transforms only the new items with the previous
version's featuriser and appends their rows; the featuriser is refitted only when the pool
has more than doubled since it was fitted (or there is no earlier cache). A fit on a big
pool learns the vocabularies and IDF weights on a seeded sample of ``FIT_SAMPLE`` texts and
transforms everything in chunks, so memory stays bounded by the output.
MiniLM: vectors are computed once per item and kept in an ``EmbeddingStore``. A project's
``features`` option picks one of ``FEATURE_KINDS`` (both = side by side, see
``app.learning.features.pool_features``).
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from app.learning.embeddings import encoder_key
from app.learning.features import FEATURE_KINDS, TfidfFeaturizer, pool_features
from app.training import artifacts
from app.training.embeddingstore import EmbeddingStore


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
        tfidf = load_or_build(project_dir / "features", pool_version, item_ids, texts, texts_of)
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
FIT_SAMPLE = 100_000
TRANSFORM_CHUNK = 50_000
REFIT_GROWTH = 2.0  # refit once the pool is this many times the featuriser's fitted pool

_MEMORY: OrderedDict[tuple[str, int], PoolFeatures] = OrderedDict()
_MEMORY_ENTRIES = 2
_memory_lock = threading.Lock()


def load_or_build(
    directory: Path,
    pool_version: int,
    item_ids: np.ndarray,
    texts: Callable[[], list[str]],
    texts_of: Callable[[np.ndarray], list[str]] | None = None,
) -> PoolFeatures:
    """The TF-IDF cache for ``pool_version`` if it covers exactly ``item_ids``, else build it.

    Args:
        item_ids: (n,) int64 ids of every item of the project, ascending.
        texts: called only when refitting; returns the n texts in ``item_ids`` order.
        texts_of: the texts of some ids (ascending), to extend an earlier version's cache
            with the new items; None always refits.
    """
    key = (str(directory), pool_version)
    with _memory_lock:
        kept = _MEMORY.get(key)
        if kept is not None and np.array_equal(kept.item_ids, item_ids):
            _MEMORY.move_to_end(key)
            return kept
    features = _load_or_build(directory, pool_version, item_ids, texts, texts_of)
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
    texts_of: Callable[[np.ndarray], list[str]] | None,
) -> PoolFeatures:
    matrix_path, ids_path, featurizer_path, meta_path = _paths(directory, pool_version)
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        cached_ids = np.load(ids_path)
        if np.array_equal(cached_ids, item_ids):
            return PoolFeatures(
                cached_ids,
                sp.load_npz(matrix_path).tocsr(),
                Path(meta.get("featurizer_path", featurizer_path)),
                meta["sha256"],
            )
    extended = _extend_earlier(directory, pool_version, item_ids, texts_of)
    if extended is not None:
        matrix, featurizer_path, sha, fitted_on = extended
    else:
        featurizer = TfidfFeaturizer()
        matrix = _fit_transform(featurizer, texts())
        directory.mkdir(parents=True, exist_ok=True)
        sha = artifacts.save(featurizer, featurizer_path)
        fitted_on = len(item_ids)
    sp.save_npz(matrix_path, matrix, compressed=False)
    np.save(ids_path, item_ids)
    meta = {
        "sha256": sha,
        "n_items": len(item_ids),
        "featurizer_path": str(featurizer_path),
        "fitted_on": fitted_on,
    }
    # The meta file marks the cache complete: written last, whole, by a rename.
    tmp = meta_path.with_name(f".{meta_path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(meta))
    os.replace(tmp, meta_path)
    _prune(directory, keep=pool_version)
    return PoolFeatures(item_ids, matrix, featurizer_path, sha)


def _fit_transform(featurizer: TfidfFeaturizer, texts: list[str]) -> sp.csr_matrix:
    """Fit on all texts, or on a seeded sample of FIT_SAMPLE of a bigger pool, then transform."""
    if len(texts) <= FIT_SAMPLE:
        return featurizer.fit_transform(texts)
    sample = np.random.default_rng(0).choice(len(texts), FIT_SAMPLE, replace=False)
    featurizer.fit([texts[i] for i in np.sort(sample)])
    return sp.vstack(
        [
            featurizer.transform(texts[start : start + TRANSFORM_CHUNK])
            for start in range(0, len(texts), TRANSFORM_CHUNK)
        ],
        format="csr",
    )


def _extend_earlier(
    directory: Path,
    pool_version: int,
    item_ids: np.ndarray,
    texts_of: Callable[[np.ndarray], list[str]] | None,
) -> tuple[sp.csr_matrix, Path, str, int] | None:
    """The latest earlier cache plus the new items' rows, if its featuriser may be reused.

    Returns (matrix in ``item_ids`` order, featuriser path, its sha256, pool size it was
    fitted on), or None when there is no earlier cache, it has items that are gone, or the
    pool has outgrown its featuriser (REFIT_GROWTH).
    """
    if texts_of is None:
        return None
    earlier = sorted(
        (int(p.stem.split("-")[1]), p)
        for p in directory.glob("pool-*.json")
        if p.stem.split("-")[1].isdigit() and int(p.stem.split("-")[1]) < pool_version
    )
    if not earlier:
        return None
    version, meta_path = earlier[-1]
    matrix_path, ids_path, default_featurizer, _ = _paths(directory, version)
    meta = json.loads(meta_path.read_text())
    old_ids = np.load(ids_path)
    fitted_on = int(meta.get("fitted_on", meta["n_items"]))
    if len(item_ids) > REFIT_GROWTH * fitted_on or not np.isin(old_ids, item_ids).all():
        return None
    featurizer_path = Path(meta.get("featurizer_path", default_featurizer))
    try:
        featurizer = artifacts.load(featurizer_path, meta["sha256"])
    except (artifacts.ArtifactError, OSError):
        return None
    new_ids = np.setdiff1d(item_ids, old_ids, assume_unique=True)
    texts = texts_of(new_ids)
    blocks = [sp.load_npz(matrix_path).tocsr()]
    blocks += [
        featurizer.transform(texts[start : start + TRANSFORM_CHUNK])
        for start in range(0, len(texts), TRANSFORM_CHUNK)
    ]
    matrix = sp.vstack(blocks, format="csr")
    combined = np.concatenate([old_ids, new_ids])
    if combined.size > 1 and not np.all(np.diff(combined) > 0):
        matrix = matrix[np.argsort(combined, kind="stable")]
    return matrix, featurizer_path, meta["sha256"], fitted_on


def _prune(directory: Path, *, keep: int) -> None:
    """Remove caches of older pool versions (published models keep their featuriser)."""
    for path in directory.glob("pool-*"):
        version = path.name.split("-")[1].split(".")[0]
        if version.isdigit() and int(version) < keep and "featurizer" not in path.name:
            path.unlink(missing_ok=True)
