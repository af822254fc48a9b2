"""A training worker's sign of life: a file it touches while its loop turns, whether it is a
``labelloop worker`` process or the thread ``labelloop serve`` embeds.

A container health check cannot look inside the process, and the worker serves no port;
``labelloop worker --check`` reads how long ago the file was touched instead. One file per
host name (in a container: the container's id), so workers sharing a data volume each keep
their own, and the check run inside a container finds its own worker's.
"""

from __future__ import annotations

import logging
import socket
import time
from pathlib import Path

from app.config import Settings

log = logging.getLogger("labelloop.worker")


def heartbeat_path(settings: Settings) -> Path:
    return settings.data_dir / "heartbeats" / f"worker-{socket.gethostname()}"


class Heartbeat:
    """Touches ``path`` at most once per ``every`` seconds, however often it is called."""

    def __init__(self, path: Path, every: float) -> None:
        self.path = path
        self.every = every
        self._last = float("-inf")

    def beat(self) -> None:
        now = time.monotonic()
        if now - self._last < self.every:
            return
        self._last = now
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.touch()
        except OSError as exc:  # a full or read-only disk must not stop training
            log.warning("could not touch the heartbeat file %s: %s", self.path, exc)


def host_heartbeat(settings: Settings) -> Heartbeat:
    """The heartbeat of a worker on this host, which ``check`` reads."""
    return Heartbeat(heartbeat_path(settings), settings.worker_heartbeat_seconds)


def check(settings: Settings) -> tuple[bool, str]:
    """Whether a worker on this host (a process or embedded in ``serve``) beat within
    ``worker_stale_seconds``, and a line saying so."""
    path = heartbeat_path(settings)
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return False, (
            f"no heartbeat at {path}: no training worker has run on this host "
            "(`labelloop worker`, or `labelloop serve` without --no-worker)"
        )
    limit = settings.worker_stale_seconds
    if age > limit:
        return False, f"the worker's last heartbeat was {age:.0f} s ago (stale after {limit:g} s)"
    return True, f"the worker is alive: last heartbeat {age:.1f} s ago"
