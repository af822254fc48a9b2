"""Pool matrices on disk in a compact form, read through memory maps a few rows at a time.

TF-IDF rows are stored as CSR arrays (float16 values, int32 column indices, int64 row
pointers), each a raw file whose dtype and length the caller records; embeddings as float16.
A read maps the files, copies out the rows it needs as float32 and drops the maps, so a
process holds pool features only while it works on them: an idle project costs no memory,
and the operating system's page cache (not the worker's heap) keeps a busy one's files warm.
Values are rounded to float16 once, when stored: relative error under 5e-4, see
``bench/README.md`` (issue 22) for what that does to rankings and label efficiency.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from app.scaling.storedpool import row_spans

VALUES = np.dtype(np.float16)  # stored values (TF-IDF weights, embedding components)
INDICES = np.dtype(np.int32)
INDPTR = np.dtype(np.int64)
PARTS = ("data", "indices", "indptr")


def part_path(stem: Path, part: str) -> Path:
    """The file of one CSR array (``part`` in PARTS) of the matrix stored at ``stem``."""
    return stem.with_name(f"{stem.name}-{part}.bin")


def _map(path: Path, dtype: np.dtype, count: int) -> np.ndarray:
    """``count`` values of ``dtype`` from ``path``, mapped (an empty file cannot be)."""
    if count == 0:
        return np.zeros(0, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r", shape=(count,))


@dataclass(frozen=True)
class MappedCSR:
    """An (n, d) CSR matrix stored under ``stem``; indexing returns float32 CSR rows.

    Supports what the training code does with a pool matrix: ``shape``, ``m[a:b]`` and
    ``m[positions]`` (an int array of rows, any order, repeats allowed).
    """

    stem: Path
    shape: tuple[int, int]
    nnz: int

    def __getitem__(self, index: slice | np.ndarray | list[int]) -> sp.csr_matrix:
        if isinstance(index, slice) and index.indices(self.shape[0])[2] != 1:
            return self[np.arange(*index.indices(self.shape[0]))]
        indptr = _map(part_path(self.stem, "indptr"), INDPTR, self.shape[0] + 1)
        take, counts = row_spans(
            indptr, index if isinstance(index, slice) else np.asarray(index), self.shape[0]
        )
        data = _map(part_path(self.stem, "data"), VALUES, self.nnz)[take].astype(np.float32)
        indices = np.array(_map(part_path(self.stem, "indices"), INDICES, self.nnz)[take])
        new_indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        shape = (counts.size, self.shape[1])
        return sp.csr_matrix((data, indices, new_indptr), shape=shape, copy=False)

    def files(self) -> list[Path]:
        return [part_path(self.stem, part) for part in PARTS]


class CSRWriter:
    """Writes a CSR matrix block by block (rows appended in order) without holding it whole.

    Files are written under temporary names; ``close`` fsyncs and renames them and returns
    the stored matrix. The caller marks the result complete (a meta file written last).
    """

    def __init__(self, stem: Path, n_cols: int) -> None:
        self.stem, self.n_cols = stem, n_cols
        stem.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = {p: _tmp_path(part_path(stem, p)) for p in PARTS}
        self._files = {p: self._tmp[p].open("wb") for p in PARTS}
        self._nnz, self._rows = 0, 0
        self._files["indptr"].write(np.zeros(1, dtype=INDPTR).tobytes())

    def append(self, block: Any) -> None:
        """Append the rows of ``block`` ((m, n_cols), sparse or dense)."""
        csr = sp.csr_matrix(block)
        if csr.shape[1] != self.n_cols:
            raise ValueError(f"expected {self.n_cols} columns, got {csr.shape[1]}")
        csr.sort_indices()
        self._files["data"].write(csr.data.astype(VALUES).tobytes())
        self._files["indices"].write(csr.indices.astype(INDICES).tobytes())
        pointers = csr.indptr[1:].astype(INDPTR) + self._nnz
        self._files["indptr"].write(pointers.tobytes())
        self._nnz += int(csr.nnz)
        self._rows += csr.shape[0]

    def close(self) -> MappedCSR:
        for part, handle in self._files.items():
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
            os.replace(self._tmp[part], part_path(self.stem, part))
        return MappedCSR(self.stem, (self._rows, self.n_cols), self._nnz)

    def abort(self) -> None:
        for part, handle in self._files.items():
            handle.close()
            self._tmp[part].unlink(missing_ok=True)


def write_csr(stem: Path, blocks: Iterable[Any], n_cols: int) -> MappedCSR:
    """Store the row blocks (in order) as one matrix at ``stem``; see ``CSRWriter``."""
    writer = CSRWriter(stem, n_cols)
    try:
        for block in blocks:
            writer.append(block)
    except BaseException:
        writer.abort()
        raise
    return writer.close()


def blocks_of(matrix: MappedCSR | sp.csr_matrix, rows: int = 50_000) -> Iterable[Any]:
    """The matrix's rows in blocks of ``rows`` (a stored matrix is read block by block)."""
    for start in range(0, matrix.shape[0], rows):
        yield matrix[start : start + rows]


class ChunkRows:
    """An (n, d) matrix whose rows lie in .npy chunk files, read through memory maps.

    Embeddings are stored a chunk of items per file (``EmbeddingStore``). A run reads them
    as it reads a stored TF-IDF matrix: indexing maps the chunks that hold the rows, copies
    those rows out as float32 and drops the maps, so the process never holds the pool's
    vectors (at 1M MiniLM items, gathering them took 768 MB of float16 for a whole run).
    Position ``p`` is row ``row_of[p]`` of the file ``paths[chunk_of[p]]``.
    """

    def __init__(self, paths: list[Path], chunk_of: np.ndarray, row_of: np.ndarray, dim: int):
        self.paths, self.chunk_of, self.row_of = paths, chunk_of, row_of
        self.shape = (int(chunk_of.size), dim)

    def __getitem__(self, index: slice | np.ndarray | list[int]) -> np.ndarray:
        if isinstance(index, slice):
            positions = np.arange(*index.indices(self.shape[0]))
        else:
            positions = np.asarray(index, dtype=np.int64).reshape(-1)
        out = np.empty((positions.size, self.shape[1]), dtype=np.float32)
        chunks = self.chunk_of[positions]
        order = np.argsort(chunks, kind="stable")
        for group in np.split(order, np.flatnonzero(np.diff(chunks[order])) + 1):
            if group.size:
                out[group] = self._read(int(chunks[group[0]]), self.row_of[positions[group]])
        return out

    def _read(self, chunk: int, rows: np.ndarray) -> np.ndarray:
        values = np.load(self.paths[chunk], mmap_mode="r")
        first, last = int(rows[0]), int(rows[-1])
        if last - first + 1 == rows.size and np.all(np.diff(rows) == 1):  # a run: no gather
            return np.array(values[first : last + 1], dtype=np.float32)
        return np.asarray(values[rows], dtype=np.float32)


def save_replacing(path: Path, values: np.ndarray, others: str) -> None:
    """Save ``values`` to ``path`` (.npy) atomically by a rename, then delete the files of
    its folder matching the glob ``others`` (earlier versions of the same cache)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_path(path)
    with tmp.open("wb") as f:
        np.save(f, values)
    os.replace(tmp, path)
    for old in path.parent.glob(others):
        if old != path:
            old.unlink(missing_ok=True)


def _tmp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")
