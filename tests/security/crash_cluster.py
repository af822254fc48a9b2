"""The processes the crash test kills: a ``labelloop serve`` and a ``labelloop worker``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tests.forked import FULL, Proc, launch, stop
from tests.server import free_port, wait_until_up

DEADLINE = 240.0 if FULL else 90.0


@dataclass
class Cluster:
    """One ``labelloop serve --no-worker`` and one ``labelloop worker`` on one database."""

    env: dict[str, str]
    logs: Path
    port: int = field(default_factory=free_port)
    web: Proc | None = None
    worker: Proc | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _log(self, name: str) -> Path:
        self.starts += 1
        return self.logs / f"{name}-{self.starts}.log"

    def start_web(self) -> None:
        """Start the web process on the same port as before and wait until it answers."""
        log = self._log("serve")
        argv = ["serve", "--port", str(self.port), "--no-worker", "--log-level", "warning"]
        self.web = launch(argv, self.env, log)
        wait_until_up(self.url, self.web, log, timeout=DEADLINE)

    def start_worker(self) -> None:
        self.worker = launch(["worker"], self.env, self._log("worker"))

    @staticmethod
    def kill(proc: Proc | None) -> int:
        """SIGKILL ``proc`` and reap it; returns its pid."""
        assert proc is not None and proc.poll() is None, "the process died on its own"
        proc.kill()
        proc.wait()
        return proc.pid

    def close(self) -> None:
        for proc in (self.web, self.worker):
            if proc is not None and proc.poll() is None:
                stop(proc)
