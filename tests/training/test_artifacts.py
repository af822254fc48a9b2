"""Model files: written atomically with a digest, refused when changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.training import artifacts


def test_round_trip_and_tamper_detection(tmp_path: Path) -> None:
    path = tmp_path / "m.joblib"
    digest = artifacts.save({"weights": [1, 2, 3]}, path)
    assert artifacts.load(path, digest) == {"weights": [1, 2, 3]}
    path.write_bytes(path.read_bytes() + b"x")
    with pytest.raises(artifacts.ArtifactError, match="sha256"):
        artifacts.load(path, digest)
    with pytest.raises(artifacts.ArtifactError, match="missing"):
        artifacts.load(tmp_path / "nope.joblib", digest)
