"""The processes the crash test kills: a ``labelloop serve`` and a ``labelloop worker``."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from app import cli
from tests.server import ROOT, free_port, wait_until_up

FULL = os.environ.get("LABELLOOP_TEST_FULL") == "1"
DEADLINE = 240.0 if FULL else 90.0


def _run_command(argv: list[str], env: dict[str, str], log: str) -> None:
    """In a forked child: take the given environment and log file, then run the CLI."""
    os.environ.clear()
    os.environ.update(env)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    sys.exit(cli.main(argv))


class Forked:
    """A forkserver child, with the part of the ``subprocess.Popen`` interface used here."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        context = multiprocessing.get_context("forkserver")
        preload = [__name__, "app.main", "app.scheduler.worker", "app.migrate", "uvicorn"]
        context.set_forkserver_preload(preload)
        self._proc = context.Process(target=_run_command, args=(argv, env, str(log)), daemon=True)
        self._proc.start()

    @property
    def pid(self) -> int:
        return self._proc.pid or 0

    @property
    def returncode(self) -> int | None:
        return self._proc.exitcode

    def poll(self) -> int | None:
        return self._proc.exitcode

    def kill(self) -> None:
        self._proc.kill()

    def terminate(self) -> None:
        self._proc.terminate()

    def wait(self, timeout: float | None = None) -> int | None:
        self._proc.join(timeout)
        if self._proc.exitcode is None:
            raise subprocess.TimeoutExpired("labelloop", timeout or 0)
        return self._proc.exitcode


Proc = subprocess.Popen | Forked


def launch(argv: list[str], env: dict[str, str], log: Path) -> Proc:
    """``labelloop <argv>``: a cold interpreter in full runs, else a preloaded fork."""
    if not FULL:
        return Forked(argv, env, log)
    with log.open("a") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "app.cli", *argv],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _stop(proc: Proc) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


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
        wait_until_up(self.url, self.web, log, timeout=DEADLINE)  # type: ignore[arg-type]

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
                _stop(proc)
