"""Pool features on storage every scoring process can read: memory-mapped ``.npy`` files.

A stored pool is a directory holding ``meta.json`` and either ``dense.npy`` (n, d) or the three
CSR arrays ``data.npy``, ``indices.npy`` and ``indptr.npy``. It is written to a temporary
directory and renamed, so a reader sees a whole pool or none; reading rows maps only the pages
those rows live in, so a Dask worker reads its chunk of a 10M-row pool without loading the rest.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from app.learning.estimators import Matrix

FORMAT_VERSION = 1


@dataclass(frozen=True)
class StoredPool:
    """A pool matrix of ``shape`` stored under ``path`` as ``kind`` "dense" or "csr".

    Small and picklable: it is what a Dask task receives instead of the rows themselves.
    """

    path: Path
    shape: tuple[int, int]
    kind: str

    @classmethod
    def write(cls, directory: Path, matrix: Matrix) -> StoredPool:
        """Store ``matrix`` (n, d), dense or sparse, under ``directory`` (replaced if present).

        Args:
            directory: a path every scoring process sees (shared storage for Dask workers).
            matrix: the pool features; sparse input is stored as CSR.

        Returns:
            The stored pool, ready to be read.
        """
        directory = Path(directory)
        directory.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
        try:
            kind = _write_arrays(staging, matrix)
            meta = {"format": FORMAT_VERSION, "kind": kind, "shape": list(matrix.shape)}
            (staging / "meta.json").write_text(json.dumps(meta))
            if directory.exists():
                shutil.rmtree(directory)
            os.replace(staging, directory)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return cls(directory, (int(matrix.shape[0]), int(matrix.shape[1])), kind)

    @classmethod
    def open(cls, directory: Path) -> StoredPool:
        """The pool stored under ``directory``.

        Raises:
            FileNotFoundError: no stored pool there.
            ValueError: written by an unknown format version.
        """
        meta = json.loads((Path(directory) / "meta.json").read_text())
        if meta.get("format") != FORMAT_VERSION:
            raise ValueError(f"{directory}: unknown stored pool format {meta.get('format')!r}")
        rows, cols = meta["shape"]
        return cls(Path(directory), (int(rows), int(cols)), str(meta["kind"]))

    def rows(self, index: slice | np.ndarray) -> Matrix:
        """Rows of the pool, read through memory maps.

        Args:
            index: a slice (step 1) or an int array of row positions, shape (m,).

        Returns:
            (m, d) float array, or a CSR matrix for a "csr" pool.
        """
        if self.kind == "dense":
            return np.asarray(_load(self.path / "dense.npy")[index])
        take, counts = row_spans(_load(self.path / "indptr.npy"), index, self.shape[0])
        data = np.asarray(_load(self.path / "data.npy")[take])
        indices = np.asarray(_load(self.path / "indices.npy")[take])
        new_indptr = np.concatenate([[0], np.cumsum(counts)]).astype(indices.dtype)
        return sp.csr_matrix((data, indices, new_indptr), shape=(counts.size, self.shape[1]))


def row_spans(
    indptr: np.ndarray, index: slice | np.ndarray, n_rows: int
) -> tuple[slice | np.ndarray, np.ndarray]:
    """Where rows ``index`` (a step-1 slice or int positions) of a CSR matrix keep their values.

    Args:
        indptr: (n_rows + 1,) row pointers (a memory map is read only where needed).

    Returns:
        (the positions of their values in data/indices, a slice when contiguous; (m,) counts).
    """
    if isinstance(index, slice):
        start, stop, _ = index.indices(n_rows)
        bounds = np.asarray(indptr[start : max(stop, start) + 1], dtype=np.int64)
        return slice(int(bounds[0]), int(bounds[-1])), np.diff(bounds)
    index = np.asarray(index, dtype=np.int64)
    starts = np.asarray(indptr[index], dtype=np.int64)
    counts = np.asarray(indptr[index + 1], dtype=np.int64) - starts
    return _positions(starts, counts), counts


def _write_arrays(directory: Path, matrix: Matrix) -> str:
    if sp.issparse(matrix):
        csr = sp.csr_matrix(matrix)
        csr.sort_indices()
        for name in ("data", "indices", "indptr"):
            np.save(directory / f"{name}.npy", getattr(csr, name))
        return "csr"
    np.save(directory / "dense.npy", np.ascontiguousarray(matrix))
    return "dense"


def _load(path: Path) -> np.ndarray:
    array: np.ndarray = np.load(path, mmap_mode="r")  # a .npy file: one array
    return array


def _positions(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenated ranges [starts[i], starts[i] + counts[i]) as one int64 array."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    return offsets + np.arange(total, dtype=np.int64)
