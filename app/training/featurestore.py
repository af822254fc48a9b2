"""The pool's feature matrix, cached on disk so re-scoring never re-featurises.

TF-IDF: each pool version (an import bumps ``Project.pool_version``) has a cached matrix;
retrains in between reuse it. A new version transforms only the new items with the previous
version's featuriser and appends their rows; the featuriser is refitted only when the pool
has more than doubled since it was fitted (or there is no earlier cache). A fit on a big
pool learns the vocabularies and IDF weights on a seeded sample of ``FIT_SAMPLE`` texts and
transforms everything in chunks, so memory stays bounded by the output.
Both are stored compactly (float16 values) and read a chunk at a time (``mapped``): the process
keeps no pool features between runs. MiniLM: vectors are computed once per item and kept in an
``EmbeddingStore``. A project's
``features`` option picks one of ``FEATURE_KINDS`` (both = side by side, see
``app.learning.features.pool_features``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import scipy.sparse as sp

from app.learning.embeddings import MINILM_DIM, encode, encoder_key
from app.learning.features import DENSE_KINDS, TfidfFeaturizer, pool_features
from app.learning.options import FEATURE_KINDS
from app.training import artifacts, backfill, mapped
from app.training.embeddingstore import CHUNK_ITEMS, EmbeddingStore

# A pool matrix: stored and mapped (TF-IDF, embeddings' chunks) or float32 in memory (both).
# Each hands out float32 rows when indexed (``m[a:b]``, ``m[positions]``).
PoolMatrix: TypeAlias = sp.csr_matrix | np.ndarray | mapped.MappedCSR | mapped.ChunkRows


@dataclass(frozen=True)
class PoolFeatures:
    """Rows of ``matrix`` belong to ``item_ids`` (sorted ascending), shape (n_items, d).

    ``featurizer_path`` / ``featurizer_sha256`` name the fitted TF-IDF featuriser (None for
    MiniLM-only features); ``embedder`` the embedding cache key (None for TF-IDF only).
    """

    item_ids: np.ndarray
    matrix: PoolMatrix
    featurizer_path: Path | None
    featurizer_sha256: str | None
    kind: str = "tfidf"
    embedder: str | None = None
    embedded_now: int = 0
    encoder_path: Path | None = None  # static vectors: the encoder's folder, for predictions

    def rows(self, ids: Sequence[int] | np.ndarray) -> sp.csr_matrix | np.ndarray:
        """Feature rows for ``ids`` (each must be in the pool), shape (len(ids), d)."""
        ids = np.asarray(ids, dtype=np.int64)
        pos = np.searchsorted(self.item_ids, ids)
        if len(ids) and (pos.max() >= len(self.item_ids) or (self.item_ids[pos] != ids).any()):
            raise KeyError("item ids missing from the feature cache")
        return self.matrix[pos]


def _paths(directory: Path, pool_version: int) -> tuple[Path, Path, Path, Path]:
    """(matrix stem, ids file, featuriser file, meta file) of one pool version's cache."""
    stem = directory / f"pool-{pool_version}"
    return (
        stem,
        stem.with_name(stem.name + "-ids.npy"),
        stem.with_name(stem.name + "-featurizer.joblib"),
        stem.with_suffix(".json"),
    )


@dataclass(frozen=True)
class Embedder:
    """Sentence vectors of one encoder: its cache key, width, encode function, items embedded
    and written per stored chunk, and (static) the folder it is loaded from for predictions."""

    key: str
    dim: int
    encode: Callable[[Sequence[str]], np.ndarray]
    chunk_items: int = CHUNK_ITEMS
    path: Path | None = None

    def store(self, directory: Path) -> EmbeddingStore:
        return EmbeddingStore(directory, key=self.key, dim=self.dim)


MINILM = Embedder(encoder_key(), MINILM_DIM, encode)
STATIC_CHUNK = 16_384  # static vectors: under a second of encoding per chunk


@dataclass(frozen=True)
class FastFeatures:
    """Static vectors stand in for MiniLM while more than ``above`` items are not embedded
    (``fast_features_above``); ``embedder`` builds the static encoder when first needed."""

    above: int
    embedder: Callable[[], Embedder]


def load(
    project_dir: Path,
    kind: str,
    pool_version: int,
    item_ids: np.ndarray,
    texts: Callable[[], list[str]],
    texts_of: Callable[[np.ndarray], list[str]],
    fast: FastFeatures | None = None,
) -> PoolFeatures:
    """The pool's features of ``kind``, from the caches under ``project_dir``.

    Args:
        kind: one of FEATURE_KINDS.
        item_ids: (n,) int64 ids of every item of the project, ascending.
        texts: all n texts in ``item_ids`` order (called only to refit TF-IDF).
        texts_of: the texts of some ids (ascending), for the items not yet embedded.
        fast: the static encoder, for kind "static", and for "minilm" on a pool with more
            than ``fast.above`` items to embed: the run uses static vectors (kind "static")
            and marks the project for MiniLM embedding in the background (``backfill``).
    """
    if kind not in FEATURE_KINDS:
        raise ValueError(f"unknown feature kind {kind!r}; known: {', '.join(FEATURE_KINDS)}")
    if kind == "minilm" and fast is not None and _too_many_to_embed(project_dir, item_ids, fast):
        backfill.request(project_dir)
        kind = "static"
    elif kind == "minilm":  # stand-in vectors of a big pool are not needed once MiniLM's are
        backfill.drop_stand_ins(project_dir)
    if kind == "static" and fast is None:
        raise ValueError("static features need the static encoder (fast)")
    embedder = fast.embedder() if kind == "static" and fast is not None else MINILM
    tfidf = embeddings = None
    embedded_now = 0
    if kind in ("tfidf", "both"):
        tfidf = load_or_build(project_dir / "features", pool_version, item_ids, texts, texts_of)
    if kind in ("minilm", "static", "both"):
        embeddings, embedded_now = embedder.store(project_dir / "embeddings").rows(
            item_ids, texts_of, encode_fn=embedder.encode, chunk_items=embedder.chunk_items
        )
    return PoolFeatures(
        item_ids,
        _matrix(kind, tfidf, embeddings),
        tfidf.featurizer_path if tfidf else None,
        tfidf.featurizer_sha256 if tfidf else None,
        kind=kind,
        embedder=embedder.key if embeddings is not None else None,
        embedded_now=embedded_now,
        encoder_path=embedder.path if embeddings is not None else None,
    )


def _matrix(
    kind: str, tfidf: PoolFeatures | None, embeddings: mapped.ChunkRows | None
) -> PoolMatrix:
    if kind == "tfidf" and tfidf is not None:
        return tfidf.matrix
    if kind in DENSE_KINDS and embeddings is not None:
        return embeddings  # read from the stored chunks a few rows at a time
    return pool_features(  # both: the joint float32 rows, in memory for the run
        kind,
        tfidf=tfidf.matrix[:] if tfidf else None,
        embeddings=None if embeddings is None else embeddings[:],
    )


def _too_many_to_embed(project_dir: Path, item_ids: np.ndarray, fast: FastFeatures) -> bool:
    """Whether the pool has more than ``fast.above`` items without a MiniLM vector."""
    if fast.above <= 0 or item_ids.size <= fast.above:
        return False
    cached = MINILM.store(project_dir / "embeddings").cached_ids()
    return item_ids.size - int(np.isin(item_ids, cached, assume_unique=True).sum()) > fast.above


# What building a cache costs in memory follows these two, not the pool: fitting on 100k
# texts peaked 480 MB above the process's size, on 30k 140 MB; a chunk of 10k rows is
# ~50 MB of transform (bench/memory.py, issue 22).
FIT_SAMPLE = 30_000
TRANSFORM_CHUNK = 10_000
REFIT_GROWTH = 2.0  # refit once the pool is this many times the featuriser's fitted pool
FORMAT = 2  # float16 values / int32 indices, mapped (1: a whole float32 .npz, read into memory)


def load_or_build(
    directory: Path,
    pool_version: int,
    item_ids: np.ndarray,
    texts: Callable[[], list[str]],
    texts_of: Callable[[np.ndarray], list[str]] | None = None,
) -> PoolFeatures:
    """The TF-IDF cache for ``pool_version`` if it covers exactly ``item_ids``, else build it.

    The matrix is read through memory maps (``mapped.MappedCSR``), never kept by the
    process between runs: an idle project costs no memory (issue 22, ``bench/memory.py``).

    Args:
        item_ids: (n,) int64 ids of every item of the project, ascending.
        texts: called only when refitting; returns the n texts in ``item_ids`` order.
        texts_of: the texts of some ids (ascending), to extend an earlier version's cache
            with the new items; None always refits.
    """
    return _load_or_build(directory, pool_version, item_ids, texts, texts_of)


def _load_or_build(
    directory: Path,
    pool_version: int,
    item_ids: np.ndarray,
    texts: Callable[[], list[str]],
    texts_of: Callable[[np.ndarray], list[str]] | None,
) -> PoolFeatures:
    stem, ids_path, featurizer_path, meta_path = _paths(directory, pool_version)
    cached = _cached(directory, pool_version)
    if cached is not None and np.array_equal(cached.item_ids, item_ids):
        return cached
    extended = _extend_earlier(directory, pool_version, item_ids, texts_of)
    if extended is not None:
        matrix, featurizer_path, sha, fitted_on = extended
    else:
        featurizer, matrix = _fit_transform(TfidfFeaturizer(), texts(), stem)
        sha = artifacts.save(featurizer, featurizer_path)
        fitted_on = len(item_ids)
    np.save(ids_path, item_ids)
    meta = {
        "format": FORMAT,
        "sha256": sha,
        "n_items": len(item_ids),
        "shape": list(matrix.shape),
        "nnz": matrix.nnz,
        "featurizer_path": str(featurizer_path),
        "fitted_on": fitted_on,
    }
    # The meta file marks the cache complete: written last, whole, by a rename.
    tmp = meta_path.with_name(f".{meta_path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(meta))
    os.replace(tmp, meta_path)
    _prune(directory, keep=pool_version)
    return PoolFeatures(item_ids, matrix, featurizer_path, sha)


def _cached(directory: Path, pool_version: int) -> PoolFeatures | None:
    """The complete cache of ``pool_version`` in this format, or None."""
    stem, ids_path, featurizer_path, meta_path = _paths(directory, pool_version)
    if not meta_path.is_file():
        return None
    meta = json.loads(meta_path.read_text())
    if meta.get("format") != FORMAT:
        return None  # an older format: rebuilt (and its files pruned)
    rows, cols = meta["shape"]
    return PoolFeatures(
        np.load(ids_path),
        mapped.MappedCSR(stem, (int(rows), int(cols)), int(meta["nnz"])),
        Path(meta.get("featurizer_path", featurizer_path)),
        meta["sha256"],
    )


def _fit_transform(
    featurizer: TfidfFeaturizer, texts: list[str], stem: Path
) -> tuple[TfidfFeaturizer, mapped.MappedCSR]:
    """Fit on all texts, or on a seeded sample of FIT_SAMPLE of a bigger pool, then transform
    in chunks straight to the stored matrix at ``stem`` (never the whole float32 matrix)."""
    if len(texts) <= FIT_SAMPLE:
        featurizer.fit(texts)
    else:
        sample = np.random.default_rng(0).choice(len(texts), FIT_SAMPLE, replace=False)
        featurizer.fit([texts[i] for i in np.sort(sample)])
    return featurizer, mapped.write_csr(
        stem, _transformed(featurizer, texts), featurizer.n_features_
    )


def _transformed(featurizer: TfidfFeaturizer, texts: list[str]) -> Iterator[sp.csr_matrix]:
    for start in range(0, len(texts), TRANSFORM_CHUNK):
        yield featurizer.transform(texts[start : start + TRANSFORM_CHUNK])


def _extend_earlier(
    directory: Path,
    pool_version: int,
    item_ids: np.ndarray,
    texts_of: Callable[[np.ndarray], list[str]] | None,
) -> tuple[mapped.MappedCSR, Path, str, int] | None:
    """The latest earlier cache plus the new items' rows, if its featuriser may be reused.

    Returns (the stored matrix in ``item_ids`` order, featuriser path, its sha256, pool size
    it was fitted on), or None when there is no earlier cache, it has items that are gone, or
    the pool has outgrown its featuriser (REFIT_GROWTH).
    """
    if texts_of is None:
        return None
    earlier = sorted(
        (int(p.stem.split("-")[1]), p)
        for p in directory.glob("pool-*.json")
        if p.stem.split("-")[1].isdigit() and int(p.stem.split("-")[1]) < pool_version
    )
    old = _cached(directory, earlier[-1][0]) if earlier else None
    if old is None:
        return None
    meta = json.loads(_paths(directory, earlier[-1][0])[3].read_text())
    fitted_on = int(meta.get("fitted_on", meta["n_items"]))
    if len(item_ids) > REFIT_GROWTH * fitted_on or not np.isin(old.item_ids, item_ids).all():
        return None
    try:
        featurizer = artifacts.load(old.featurizer_path or Path(), meta["sha256"])
    except (artifacts.ArtifactError, OSError):
        return None
    new_ids = np.setdiff1d(item_ids, old.item_ids, assume_unique=True)
    blocks: Iterable[Any] = chain(
        mapped.blocks_of(old.matrix), _transformed(featurizer, texts_of(new_ids))
    )
    combined = np.concatenate([old.item_ids, new_ids])
    if combined.size > 1 and not np.all(np.diff(combined) > 0):  # rare: in memory, reordered
        blocks = [sp.vstack(list(blocks), format="csr")[np.argsort(combined, kind="stable")]]
    stem = _paths(directory, pool_version)[0]
    matrix = mapped.write_csr(stem, blocks, old.matrix.shape[1])
    return matrix, old.featurizer_path or Path(), meta["sha256"], fitted_on


def _prune(directory: Path, *, keep: int) -> None:
    """Remove the caches of older pool versions, once ``keep``'s is complete, and files of
    an older format (published models keep their featuriser)."""
    for path in directory.glob("pool-*"):
        version = path.name.split("-")[1].split(".")[0]
        if "featurizer" in path.name or not version.isdigit():
            continue
        if int(version) < keep or path.suffix == ".npz":
            path.unlink(missing_ok=True)
