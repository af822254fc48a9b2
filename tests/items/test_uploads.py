"""Browser uploads previewed and never imported are deleted after LABELLOOP_PREVIEW_TTL_HOURS."""

from __future__ import annotations

import os
import time
from pathlib import Path

from app.config import Settings
from app.db import Database
from app.items.runner import ImportRunner
from app.items.uploads import remove_stale, uploads_dir

DAY = 24 * 3600


def _upload(settings: Settings, name: str, age_seconds: float) -> Path:
    path = uploads_dir(settings) / name
    path.write_text("text,label\nhello,greeting\n")
    written = time.time() - age_seconds
    os.utime(path, (written, written))
    return path


def test_only_uploads_past_the_ttl_are_removed(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", preview_ttl_hours=24)
    stale = _upload(settings, "abcdefghijklmnopqrstuvwx.csv", age_seconds=DAY + 60)
    fresh = _upload(settings, "bcdefghijklmnopqrstuvwxy.csv", age_seconds=DAY - 60)
    kept_dir = uploads_dir(settings) / "not-a-file"
    kept_dir.mkdir()
    os.utime(kept_dir, (0, 0))
    assert remove_stale(settings) == 1
    assert not stale.exists() and fresh.exists() and kept_dir.is_dir()
    assert remove_stale(settings, now=time.time() + 120) == 1  # now the other one is too old
    assert not fresh.exists()


def test_no_uploads_directory_is_nothing_to_do(tmp_path: Path) -> None:
    assert remove_stale(Settings(data_dir=tmp_path / "never-made")) == 0


def test_the_import_runner_sweeps_when_it_starts(settings: Settings, db: Database) -> None:
    stale = _upload(settings, "cdefghijklmnopqrstuvwxyz.jsonl", age_seconds=DAY + 60)
    fresh = _upload(settings, "defghijklmnopqrstuvwxyza.jsonl", age_seconds=60)
    runner = ImportRunner(db, settings)
    runner.start()
    try:
        deadline = time.monotonic() + 10
        while stale.exists():
            assert time.monotonic() < deadline, "the runner did not remove the stale upload"
            time.sleep(0.05)  # poll interval while the runner's thread starts
    finally:
        runner.stop()
    assert fresh.exists()
