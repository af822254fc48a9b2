"""Compact pool matrices: float16 values on disk, read through memory maps, float32 out."""

from __future__ import annotations

import weakref
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from app.learning.estimators import LabelModel
from app.learning.features import TfidfFeaturizer
from app.learning.ranking import rank_pool
from app.training import mapped
from tests.factories import topic_texts

HALF = 1e-3  # float16 rounding of values in [0, 1]


@pytest.fixture
def pool() -> tuple[sp.csr_matrix, np.ndarray]:
    pairs = topic_texts(120)
    X = TfidfFeaturizer().fit_transform([text for text, _ in pairs])
    names = sorted({label for _, label in pairs})
    return X, np.array([names.index(label) for _, label in pairs])


def test_a_stored_matrix_reads_back_within_float16_tolerance(
    tmp_path: Path, pool: tuple[sp.csr_matrix, np.ndarray]
) -> None:
    X, _ = pool
    stored = mapped.write_csr(tmp_path / "m", mapped.blocks_of(X, rows=50), X.shape[1])
    assert stored.shape == X.shape and stored.nnz == X.nnz
    whole = stored[:]
    assert whole.dtype == np.float32 and abs(whole - X).max() < HALF
    assert abs(whole - X).max() > 0  # stored at half precision: rounding happened
    picked = np.array([7, 3, 3, 119, 0])
    assert abs(stored[picked] - X[picked]).max() < HALF
    assert stored[10:10].shape == (0, X.shape[1])
    assert abs(stored[100:130] - X[100:]).max() < HALF  # clipped to the rows there are
    data, indices = (
        np.fromfile(p, dtype=d) for p, d in zip(stored.files()[:2], ("<f2", "<i4"), strict=True)
    )
    assert data.size == X.nnz and indices.size == X.nnz  # 6 bytes a value, not 8


def test_rows_are_read_through_a_memory_map_not_the_whole_file(
    tmp_path: Path, pool: tuple[sp.csr_matrix, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    X, _ = pool
    stored = mapped.write_csr(tmp_path / "m", [X], X.shape[1])
    opened: list[tuple[str, tuple[int, ...]]] = []
    real = np.memmap

    def spy(path: Path, **kwargs: object) -> np.memmap:
        opened.append((Path(path).name, kwargs["shape"]))  # type: ignore[arg-type]
        return real(path, **kwargs)  # type: ignore[call-overload,no-any-return]

    monkeypatch.setattr(mapped.np, "memmap", spy)
    rows = stored[np.array([5, 6])]
    assert rows.shape == (2, X.shape[1])
    assert {name for name, _ in opened} == {"m-indptr.bin", "m-data.bin", "m-indices.bin"}


def test_a_model_ranks_a_stored_pool_as_it_ranks_the_float32_one(
    tmp_path: Path, pool: tuple[sp.csr_matrix, np.ndarray]
) -> None:
    X, y = pool
    stored = mapped.write_csr(tmp_path / "m", [X], X.shape[1])
    labelled = np.arange(0, 120, 4)
    model = LabelModel(3).fit(X[labelled], y[labelled])
    rng_a, rng_b = np.random.default_rng(0), np.random.default_rng(0)
    original = rank_pool("margin", model.predict_proba(X), depth=20, rng=rng_a)
    compact = rank_pool("margin", model.predict_proba(stored[:]), depth=20, rng=rng_b)
    assert np.array_equal(original.indices, compact.indices)


def _chunked(directory: Path, values: np.ndarray, sizes: list[int]) -> list[Path]:
    """``values`` saved as float16 .npy chunks of ``sizes`` rows each."""
    paths, start = [], 0
    for k, size in enumerate(sizes):
        paths.append(directory / f"chunk-{k}.npy")
        np.save(paths[-1], values[start : start + size].astype(np.float16))
        start += size
    return paths


def test_chunk_rows_hand_out_float32_rows_from_every_chunk(tmp_path: Path) -> None:
    values = np.random.default_rng(0).normal(size=(10, 4)).astype(np.float16)
    paths = _chunked(tmp_path, values, [4, 6])
    # The pool's order differs from the files': position p is row p of the reversed pool.
    order = np.arange(10)[::-1]
    chunk_of = (order >= 4).astype(np.int32)
    row_of = np.where(order >= 4, order - 4, order).astype(np.int32)
    rows = mapped.ChunkRows(paths, chunk_of, row_of, 4)
    expected = values[order].astype(np.float32)
    assert rows.shape == (10, 4)
    assert rows[2:5].dtype == np.float32 and np.array_equal(rows[2:5], expected[2:5])
    assert np.array_equal(rows[:], expected)
    picked = np.array([9, 0, 0, 5, 3])
    assert np.array_equal(rows[picked], expected[picked])
    assert rows[3:3].shape == (0, 4)
    assert np.array_equal(rows[::3], expected[::3])


def test_chunk_rows_keep_no_map_open_after_a_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = np.arange(40, dtype=np.float16).reshape(10, 4)
    paths = _chunked(tmp_path, values, [5, 5])
    maps: list[weakref.ref[np.ndarray]] = []
    real = np.load

    def spy(path: Path, **kwargs: object) -> np.ndarray:
        out = real(path, **kwargs)  # type: ignore[arg-type]
        assert isinstance(out, np.memmap)  # mapped, never read whole
        maps.append(weakref.ref(out))
        return out

    monkeypatch.setattr(mapped.np, "load", spy)
    rows = mapped.ChunkRows(
        paths, np.repeat([0, 1], 5).astype(np.int32), np.tile(np.arange(5), 2).astype(np.int32), 4
    )
    got = rows[np.array([1, 7])]
    assert np.array_equal(got, values[[1, 7]])
    assert len(maps) == 2 and all(m() is None for m in maps)  # the maps are gone
