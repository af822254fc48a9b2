"""The TF-IDF pool cache: compact on disk per pool version, read through memory maps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.training import artifacts, featurestore, mapped
from tests.factories import topic_texts

HALF = 1e-3  # float16 rounding of values in [0, 1]


def test_a_worker_reads_the_stored_matrix_instead_of_keeping_it(tmp_path: Path) -> None:
    texts = [text for text, _ in topic_texts(30)]
    ids = np.arange(1, 31, dtype=np.int64)
    calls: list[int] = []

    def read_texts() -> list[str]:
        calls.append(1)
        return texts

    first = featurestore.load_or_build(tmp_path, 1, ids, read_texts)
    assert isinstance(first.matrix, mapped.MappedCSR) and first.matrix.shape[0] == 30
    again = featurestore.load_or_build(tmp_path, 1, ids, read_texts)
    assert again.matrix == first.matrix and calls == [1]  # read from disk, not refitted
    for path in first.matrix.files():
        path.unlink()  # nothing of it is held in memory: rows need the files
    with pytest.raises(FileNotFoundError):
        again.matrix[0:5]
    # Other items (or another pool version) never get a stale matrix.
    fewer = featurestore.load_or_build(tmp_path, 1, ids[:20], lambda: texts[:20])
    assert fewer.matrix.shape[0] == 20 and calls == [1]


def test_a_newer_pool_version_removes_the_older_files(tmp_path: Path) -> None:
    texts = {i: text for i, (text, _) in enumerate(topic_texts(40), start=1)}
    old_ids = np.arange(1, 31, dtype=np.int64)
    first = featurestore.load_or_build(tmp_path, 1, old_ids, lambda: [texts[i] for i in old_ids])
    (tmp_path / "pool-2.npz").write_bytes(b"a cache of the float32 format")
    all_ids = np.arange(1, 41, dtype=np.int64)
    featurestore.load_or_build(
        tmp_path, 2, all_ids, lambda: [], lambda ids: [texts[int(i)] for i in ids]
    )
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == [
        "pool-1-featurizer.joblib",  # the published model of version 1 may still use it
        "pool-2-data.bin",
        "pool-2-ids.npy",
        "pool-2-indices.bin",
        "pool-2-indptr.bin",
        "pool-2.json",
    ]
    assert first.featurizer_path is not None and first.featurizer_path.is_file()


def test_a_new_pool_version_extends_the_matrix_with_the_old_featuriser(tmp_path: Path) -> None:
    texts = {i: text for i, (text, _) in enumerate(topic_texts(40), start=1)}
    old_ids = np.arange(1, 31, dtype=np.int64)
    first = featurestore.load_or_build(
        tmp_path, 1, old_ids, lambda: [texts[i] for i in old_ids], lambda ids: []
    )
    asked: list[list[int]] = []

    def texts_of(ids: np.ndarray) -> list[str]:
        asked.append(ids.tolist())
        return [texts[int(i)] for i in ids]

    def refit() -> list[str]:
        raise AssertionError("the featuriser must not be refitted")

    all_ids = np.arange(1, 41, dtype=np.int64)
    second = featurestore.load_or_build(tmp_path, 2, all_ids, refit, texts_of)
    assert asked == [list(range(31, 41))]  # only the new items are featurised
    assert second.featurizer_path == first.featurizer_path
    assert second.featurizer_sha256 == first.featurizer_sha256
    assert first.featurizer_path is not None and first.featurizer_sha256 is not None
    fitted = artifacts.load(first.featurizer_path, first.featurizer_sha256)
    expected = fitted.transform([texts[int(i)] for i in all_ids])
    assert abs(second.matrix[:] - expected).max() < HALF
    # Growth beyond REFIT_GROWTH x the fitted pool refits on everything.
    many = np.arange(1, 70, dtype=np.int64)
    more = {**texts, **{i: f"another sentence about item {i}" for i in range(41, 70)}}
    third = featurestore.load_or_build(
        tmp_path, 3, many, lambda: [more[int(i)] for i in many], texts_of
    )
    assert third.featurizer_sha256 != first.featurizer_sha256 and len(asked) == 1


def test_a_big_pool_fits_on_a_sample_and_transforms_in_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(featurestore, "FIT_SAMPLE", 40)
    monkeypatch.setattr(featurestore, "TRANSFORM_CHUNK", 25)
    texts = [text for text, _ in topic_texts(90)]
    ids = np.arange(1, 91, dtype=np.int64)
    built = featurestore.load_or_build(tmp_path, 1, ids, lambda: texts)
    assert built.featurizer_path is not None and built.featurizer_sha256 is not None
    fitted = artifacts.load(built.featurizer_path, built.featurizer_sha256)
    assert built.matrix.shape[0] == 90
    assert abs(built.matrix[:] - fitted.transform(texts)).max() < HALF
