"""The TF-IDF pool cache: on disk per pool version, and in memory across a worker's runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.training import featurestore
from tests.factories import topic_texts


def test_a_worker_keeps_the_pool_matrix_in_memory_between_runs(tmp_path: Path) -> None:
    texts = [text for text, _ in topic_texts(30)]
    ids = np.arange(1, 31, dtype=np.int64)
    calls: list[int] = []

    def read_texts() -> list[str]:
        calls.append(1)
        return texts

    first = featurestore.load_or_build(tmp_path, 1, ids, read_texts)
    for path in tmp_path.glob("pool-1*.npz"):
        path.unlink()  # a second load must not need the file
    again = featurestore.load_or_build(tmp_path, 1, ids, read_texts)
    assert again is first and calls == [1]
    # Other items (or another pool version) never get a stale matrix.
    fewer = featurestore.load_or_build(tmp_path, 1, ids[:20], lambda: texts[:20])
    assert fewer.matrix.shape[0] == 20 and calls == [1]
    newer = featurestore.load_or_build(tmp_path, 2, ids, read_texts)
    assert newer is not first and calls == [1, 1]
