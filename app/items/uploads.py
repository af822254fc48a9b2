"""Files uploaded in the browser, kept aside between the preview and the import.

The browser import takes two requests: the upload, which is kept and previewed, and the
import with the chosen field mapping, which deletes it. A file previewed and never imported
would stay forever, so the import runner removes those older than ``preview_ttl_hours``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from app.config import Settings
from app.errors import AppError
from app.items.formats import ImportFormatError, Preview, detect_format, preview
from app.items.formats.guess import Mapping, guess_mapping
from app.models import Project


@dataclass(frozen=True)
class KeptUpload:
    """An upload kept for the mapping form: where it is, what it looks like, the guess."""

    upload_id: str  # a random name with the format as its extension; never the client's name
    filename: str  # the client's name, for people only
    preview: Preview
    guess: Mapping


def keep_and_preview(
    settings: Settings, project: Project, stream: BinaryIO, filename: str | None
) -> KeptUpload:
    """Keep a browser upload and preview it as the import will read it, with the columns
    guessed from their content. A file no mapping can import (its name, binary, empty,
    undecodable, no rows) raises AppError (415 or 422) and is not kept."""
    try:
        fmt = detect_format(filename)
    except ImportFormatError as exc:
        raise AppError(exc.message, status_code=exc.status_code) from None
    upload_id = f"{secrets.token_urlsafe(18)}.{fmt}"
    path = uploads_dir(settings) / upload_id
    try:
        with path.open("wb") as out:
            shutil.copyfileobj(stream, out, length=1 << 20)
        with path.open("rb") as fh:
            found = preview(fh, fmt)
    except ImportFormatError as exc:
        path.unlink(missing_ok=True)
        raise AppError(exc.message, status_code=exc.status_code) from None
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    guess = guess_mapping(found, list(project.labels), multi_label=project.multi_label)
    return KeptUpload(upload_id, filename or "upload", found, guess)


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
