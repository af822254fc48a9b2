"""The embedding store read in place: a run's rows come from the chunk files, not a copy."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.training import featurestore, mapped
from app.training.embeddingstore import EmbeddingStore


def _encode(texts: list[str]) -> np.ndarray:
    vectors = np.array([[len(t), t.count("a"), 1.0, 0.5] for t in texts], dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


TEXTS = {i: "a" * (i % 7) + "b" * (i % 5) for i in range(100)}


def _texts_of(ids: np.ndarray) -> list[str]:
    return [TEXTS[int(i)] for i in ids]


def test_rows_read_in_place_match_the_gathered_vectors(tmp_path: Path) -> None:
    store = EmbeddingStore(tmp_path, key="fake", dim=4)
    # Chunks written out of id order: the odd ids first, then the even ones.
    store.load(np.arange(1, 40, 2), _texts_of, encode_fn=_encode, chunk_items=6)
    ids = np.arange(0, 40, dtype=np.int64)
    rows, embedded = store.rows(ids, _texts_of, encode_fn=_encode, chunk_items=6)
    assert embedded == 20 and isinstance(rows, mapped.ChunkRows)
    gathered, again = store.load(ids, _texts_of, encode_fn=_encode)
    assert again == 0 and rows.shape == (40, 4)
    assert np.array_equal(rows[:], gathered) and rows[:].dtype == np.float32
    picked = np.array([39, 0, 17, 17, 2])
    assert np.array_equal(rows[picked], gathered[picked])
    assert np.allclose(rows[:], _encode(_texts_of(ids)), atol=1e-3)  # stored as float16


def test_a_static_pool_is_read_from_its_chunks(tmp_path: Path) -> None:
    embedder = featurestore.Embedder("fake", 4, _encode, chunk_items=8)
    fast = featurestore.FastFeatures(above=0, embedder=lambda: embedder)
    ids = np.arange(50, dtype=np.int64)
    feats = featurestore.load(
        tmp_path, "static", 1, ids, lambda: _texts_of(ids), _texts_of, fast=fast
    )
    assert isinstance(feats.matrix, mapped.ChunkRows) and feats.embedded_now == 50
    assert len(feats.matrix.paths) == 7  # 50 items in chunks of 8
    assert np.allclose(feats.rows([3, 49]), _encode(_texts_of(np.array([3, 49]))), atol=1e-3)
