"""A real ``labelloop serve`` process on a free port, for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.forked import Proc, launch, stop

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def labelloop(*args: str, env: dict[str, str], **kwargs: object) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        **kwargs,  # type: ignore[arg-type]
    )


def server_env(db_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABELLOOP_")}
    env.update(
        LABELLOOP_DATABASE_URL=db_url,
        LABELLOOP_DATA_DIR=str(data_dir),
        LABELLOOP_WORKER_POLL_SECONDS="0.1",
    )
    env.update(extra)
    return env


@contextmanager
def running(*args: str, env: dict[str, str], log: Path) -> Iterator[Proc]:
    """Run ``labelloop <args>`` in the background (``tests.forked.launch``); stop it on exit."""
    proc = launch(list(args), env, log)
    try:
        yield proc
    finally:
        stop(proc)


def wait_until_up(url: str, proc: Proc, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/openapi.json", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)  # polling interval while waiting for the port to answer
    raise RuntimeError(f"server did not come up in {timeout}s:\n{log.read_text()}")


@contextmanager
def serve(db_url: str, data_dir: Path, *extra_args: str, **env_extra: str) -> Iterator[str]:
    """Serve on a free port; yields the base URL."""
    env = server_env(db_url, data_dir, **env_extra)
    port = free_port()
    log = data_dir.parent / f"serve-{port}.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    with running(
        "serve", "--port", str(port), "--log-level", "warning", *extra_args, env=env, log=log
    ) as proc:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url, proc, log)
        try:
            yield url
        except BaseException:
            print(f"--- server log ---\n{log.read_text()[-8000:]}")  # shown by pytest on failure
            raise
