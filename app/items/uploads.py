"""Files uploaded in the browser, kept aside between the preview and the import.

The browser import takes two requests: the upload, which is kept and previewed, and the
import with the chosen field mapping, which deletes it. A file previewed and never imported
would stay forever, so the import runner removes those older than ``preview_ttl_hours``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from app.config import Settings


def uploads_dir(settings: Settings) -> Path:
    path = settings.data_dir / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def remove_stale(settings: Settings, *, now: float | None = None) -> int:
    """Delete kept uploads last written over ``preview_ttl_hours`` ago; returns how many.

    Every web process sweeps, so a file another process removed first is skipped quietly.
    """
    cutoff = (time.time() if now is None else now) - settings.preview_ttl_hours * 3600
    try:
        entries = list(os.scandir(settings.data_dir / "uploads"))
    except FileNotFoundError:
        return 0
    removed = 0
    for entry in entries:
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                os.unlink(entry.path)
                removed += 1
        except FileNotFoundError:
            continue
    return removed
