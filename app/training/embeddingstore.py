"""Sentence embeddings of a project's items, computed once per item and cached on disk.

The store is a folder of chunk files, each the float16 vectors of a run of item ids
(``chunk-<first id>-<count>.npy`` beside ``...-ids.npy``), written whole to a temporary
name and renamed, so a killed worker leaves complete chunks only and the next run resumes
where it stopped. Items are only ever added, so the store is appended to, never rebuilt.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from app.learning.embeddings import MINILM_DIM, encode, encoder_key
from app.training.mapped import ChunkRows

CHUNK_ITEMS = 512
# Within 0.005 AULC of float32 on the label-efficiency sets: bench/README.md, issue 22.
STORED_DTYPE = np.float16


class EmbeddingStore:
    """The cached vectors of one project (``directory``) for one encoder (``key``)."""

    def __init__(self, directory: Path, key: str = "", dim: int = MINILM_DIM) -> None:
        self.directory = directory / (key or encoder_key())
        self.dim = dim

    def cached_ids(self) -> np.ndarray:
        """Ids of the items with a stored vector, ascending, int64."""
        parts = [np.load(p) for p in self._id_files()]
        if not parts:
            return np.zeros(0, dtype=np.int64)
        return np.unique(np.concatenate(parts))  # an item stored twice (two writers) counts once

    def load(
        self,
        item_ids: np.ndarray,
        texts: Callable[[np.ndarray], list[str]],
        *,
        encode_fn: Callable[[Sequence[str]], np.ndarray] = encode,
        chunk_items: int = CHUNK_ITEMS,
        dtype: npt.DTypeLike = np.float32,
    ) -> tuple[np.ndarray, int]:
        """Vectors of ``item_ids`` (ascending), embedding and storing the missing ones first.

        Args:
            item_ids: (n,) int64, ascending.
            texts: returns the texts of the given (ascending) ids, in that order.
            encode_fn: texts -> (m, dim) float32 unit rows.
            chunk_items: items embedded and written per chunk.
            dtype: of the returned array (float16: as stored, half the memory).

        Returns:
            ((n, dim) array in ``item_ids`` order, number of items embedded now).
        """
        item_ids = np.asarray(item_ids, dtype=np.int64)
        embedded = self._embed_missing(item_ids, texts, encode_fn, chunk_items)
        return self._gather(item_ids, dtype), embedded

    def rows(
        self,
        item_ids: np.ndarray,
        texts: Callable[[np.ndarray], list[str]],
        *,
        encode_fn: Callable[[Sequence[str]], np.ndarray] = encode,
        chunk_items: int = CHUNK_ITEMS,
    ) -> tuple[ChunkRows, int]:
        """As ``load``, but the vectors stay in their files: float32 rows read on indexing
        (``ChunkRows``), so a run holds only the rows it works on."""
        item_ids = np.asarray(item_ids, dtype=np.int64)
        embedded = self._embed_missing(item_ids, texts, encode_fn, chunk_items)
        chunk_of = np.full(item_ids.size, -1, dtype=np.int32)
        row_of = np.zeros(item_ids.size, dtype=np.int32)
        paths: list[Path] = []
        for ids_path, pos, hit in self._placed(item_ids):
            chunk_of[pos[hit]] = len(paths)
            row_of[pos[hit]] = np.flatnonzero(hit)
            paths.append(_vectors_path(ids_path))
        if (chunk_of < 0).any():
            raise KeyError(f"{int((chunk_of < 0).sum())} items have no stored embedding")
        return ChunkRows(paths, chunk_of, row_of, self.dim), embedded

    def _embed_missing(
        self,
        item_ids: np.ndarray,
        texts: Callable[[np.ndarray], list[str]],
        encode_fn: Callable[[Sequence[str]], np.ndarray],
        chunk_items: int,
    ) -> int:
        """Embed and store the items of ``item_ids`` without a vector; how many there were."""
        missing = np.setdiff1d(item_ids, self.cached_ids(), assume_unique=True)
        for start in range(0, missing.size, chunk_items):
            ids = missing[start : start + chunk_items]
            self._write_chunk(ids, encode_fn(texts(ids)))
        return int(missing.size)

    def add(self, item_ids: np.ndarray, vectors: np.ndarray) -> None:
        """Store the vectors of items (ascending ids) as one chunk, less any stored meanwhile."""
        item_ids = np.asarray(item_ids, dtype=np.int64)
        new = ~np.isin(item_ids, self.cached_ids())
        if new.any():
            self._write_chunk(item_ids[new], vectors[new])

    def _gather(self, item_ids: np.ndarray, dtype: npt.DTypeLike) -> np.ndarray:
        out = np.zeros((item_ids.size, self.dim), dtype=dtype)
        found = np.zeros(item_ids.size, dtype=bool)
        for ids_path, pos, hit in self._placed(item_ids):
            vectors = np.load(_vectors_path(ids_path), mmap_mode="r")
            out[pos[hit]] = vectors[hit]
            found[pos[hit]] = True
        if not found.all():
            raise KeyError(f"{int((~found).sum())} items have no stored embedding")
        return out

    def _placed(self, item_ids: np.ndarray) -> Iterator[tuple[Path, np.ndarray, np.ndarray]]:
        """Per chunk holding some of ``item_ids`` (ascending): (its ids file, the positions in
        ``item_ids`` of its rows, which of its rows are wanted). A later chunk wins a repeat."""
        for ids_path in self._id_files():
            ids = np.load(ids_path)
            pos = np.searchsorted(item_ids, ids)
            inside = pos < item_ids.size
            hit = np.zeros(ids.size, dtype=bool)
            hit[inside] = item_ids[pos[inside]] == ids[inside]
            if hit.any():
                yield ids_path, pos, hit

    def _write_chunk(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if vectors.shape != (ids.size, self.dim):
            raise ValueError(f"expected ({ids.size}, {self.dim}) vectors, got {vectors.shape}")
        self.directory.mkdir(parents=True, exist_ok=True)
        stem = f"chunk-{int(ids[0])}-{ids.size}"
        # Vectors first, ids last: a chunk exists (is listed) only once both are complete.
        # Stored as float16 (half the disk; chunks of float32, written before, still read).
        _atomic_save(self.directory / f"{stem}.npy", vectors.astype(STORED_DTYPE))
        _atomic_save(self.directory / f"{stem}-ids.npy", ids.astype(np.int64))

    def _id_files(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(self.directory.glob("chunk-*-ids.npy"))


def _vectors_path(ids_path: Path) -> Path:
    return ids_path.with_name(ids_path.name.removesuffix("-ids.npy") + ".npy")


def _atomic_save(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with tmp.open("wb") as f:
        np.save(f, array)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
