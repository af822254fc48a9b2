"""``labelloop serve`` and ``labelloop worker`` forked from a process that imported the app once.

A cold interpreter spends most of a server's start importing FastAPI, SQLAlchemy and the
learning stack (scikit-learn, SciPy, pandas): ~7 s on 2 cores, before every browser test and
every multi-process test. A forkserver imports them once per test process; each command is
then a fork of it that takes its own environment and log file and runs the CLI, so it is still
a process of its own that opens its own database connections and can be killed.
``LABELLOOP_TEST_FULL=1`` starts every command as a cold interpreter instead, as a user does;
``tests/test_main.py`` checks what a cold web process imports.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import os
import subprocess
import sys
from pathlib import Path

from app import cli

FULL = os.environ.get("LABELLOOP_TEST_FULL") == "1"
PRELOAD = ["tests.forked", "app.main", "app.scheduler.worker", "app.migrate", "uvicorn"]
FORKED_COMMANDS = frozenset({"serve", "worker"})
ROOT = Path(__file__).resolve().parent.parent


def _run_command(argv: list[str], env: dict[str, str], log: str) -> None:
    """In a forked child: take the given environment and log file, then run the CLI."""
    os.environ.clear()
    os.environ.update(env)
    os.chdir(ROOT)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    # multiprocessing gave the child a /dev/null stdin on another descriptor; processes that
    # `serve --workers N` spawns inherit only 0-2, and uvicorn hands them stdin's number.
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the process's stdin, never closed
    sys.exit(cli.main(argv))


class Forked:
    """A forkserver child, with the part of the ``subprocess.Popen`` interface tests use."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        self._proc = context.Process(target=_run_command, args=(argv, env, str(log)))
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
    """``labelloop <argv>`` logging to ``log``: a preloaded fork for ``serve`` and ``worker``
    (unless ``LABELLOOP_TEST_FULL=1``), else a cold interpreter."""
    if not FULL and argv[0] in FORKED_COMMANDS:
        log.touch()  # there from the start, as for a cold interpreter's redirected output
        return Forked(argv, env, log)
    with log.open("a") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "app.cli", *argv],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def stop(proc: Proc) -> None:
    """Terminate ``proc`` and reap it, killing it after 20 s."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
