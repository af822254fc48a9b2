"""The static encoder, distilled from MiniLM once per test session (about 20 s) and copied
into each test's data directory."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.config import Settings
from app.training import encoders


@pytest.fixture(scope="session")
def distilled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once per test session: the folder is shared by the xdist workers (the parent of
    each one's base temp), and the encoder's own file lock lets one of them build it."""
    data_dir = tmp_path_factory.getbasetemp().parent / "distilled"
    data_dir.mkdir(exist_ok=True)
    encoders.static_encoder(data_dir)
    return encoders.static_path(data_dir)


@pytest.fixture
def static_ready(settings: Settings, distilled: Path) -> Settings:
    """``settings`` whose data directory already holds the static encoder."""
    shutil.copytree(distilled, encoders.static_path(settings.data_dir))
    return settings
