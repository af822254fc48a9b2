"""Files the server writes are its own: 0600 files and 0700 directories under the data dir.

The data directory holds the SQLite database, uploaded datasets and the session secret; with
the usual umask (022) every other account on the host could read them. The umask is set once,
at the start of each process, so every file made later (by SQLite, uploads, model writers)
gets the private mode without each writer having to ask for it.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_UMASK = 0o077


def keep_files_private() -> None:
    """Make every file and directory this process creates from now on owner-only."""
    os.umask(PRIVATE_UMASK)


def make_data_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) owner-only; an existing one keeps its mode."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
