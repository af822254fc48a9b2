"""The data directory's static encoder: distilled from the real MiniLM once, then read."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.learning.embeddings import encode
from app.training import encoders
from tests.learning.conftest import COOKING, SPORTS


def test_distilled_encoder_keeps_topics_apart(distilled: Path) -> None:
    encoder = encoders.loaded(distilled)
    sports, cooking = encoder.encode(SPORTS), encoder.encode(COOKING)
    assert sports.shape == (len(SPORTS), 256)
    # Leave-one-out nearest centroid: a static vector still knows sport from food.
    right = 0
    for own, other in ((sports, cooking), (cooking, sports)):
        for i in range(len(own)):
            rest = np.delete(own, i, axis=0).mean(axis=0)
            right += own[i] @ rest > own[i] @ other.mean(axis=0)
    assert right >= 0.9 * (len(SPORTS) + len(COOKING))
    # ...and its similarities follow MiniLM's: same-topic pairs above cross-topic pairs.
    minilm = encode(SPORTS[:5] + COOKING[:5])
    static = encoder.encode(SPORTS[:5] + COOKING[:5])
    same = np.kron(np.eye(2), np.ones((5, 5))).astype(bool) & ~np.eye(10, dtype=bool)
    cross = ~np.kron(np.eye(2), np.ones((5, 5))).astype(bool)
    for vectors in (minilm, static):
        similarity = vectors @ vectors.T
        assert similarity[same].mean() > similarity[cross].mean() + 0.1


def test_the_encoder_is_built_once_per_data_directory(tmp_path: Path, distilled: Path) -> None:
    path = encoders.static_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.symlink_to(distilled, target_is_directory=True)
    built = (distilled / "model.safetensors").stat().st_mtime_ns
    encoder = encoders.static_encoder(tmp_path)
    assert encoders.static_encoder(tmp_path) is encoder  # cached in the process
    assert (distilled / "model.safetensors").stat().st_mtime_ns == built  # not rebuilt
