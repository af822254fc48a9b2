"""`labelloop worker --check`: exit 0 while a worker on this host beats (a `labelloop worker`
process, or the one `labelloop serve` embeds), 1 otherwise."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from app.config import Settings
from app.scheduler.liveness import Heartbeat, heartbeat_path
from tests.server import labelloop, running, serve, server_env


@pytest.mark.process
def test_check_follows_a_real_worker_process(db_url: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = server_env(db_url, data, LABELLOOP_WORKER_HEARTBEAT_SECONDS="0.2")
    before = labelloop("worker", "--check", env=env)
    assert before.returncode == 1 and "no heartbeat" in before.stderr
    path = heartbeat_path(Settings(data_dir=data))
    with running("worker", env=env, log=tmp_path / "worker.log"):
        deadline = time.monotonic() + 60
        while not path.exists():
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
            time.sleep(0.05)  # poll interval while the worker starts
        first = path.stat().st_mtime
        alive = labelloop("worker", "--check", env=env)
        assert alive.returncode == 0, alive.stderr
        assert "alive" in alive.stdout
        time.sleep(0.5)
        assert path.stat().st_mtime > first  # it goes on beating
    os.utime(path, (time.time() - 120, time.time() - 120))  # 2 minutes without a beat
    dead = labelloop("worker", "--check", env=env)
    assert dead.returncode == 1 and "stale after 60 s" in dead.stderr


@pytest.mark.process
def test_check_sees_the_worker_embedded_in_serve(db_url: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = server_env(db_url, data, LABELLOOP_WORKER_HEARTBEAT_SECONDS="0.2")
    path = heartbeat_path(Settings(data_dir=data))
    with serve(db_url, data, LABELLOOP_WORKER_HEARTBEAT_SECONDS="0.2"):
        deadline = time.monotonic() + 60
        while not path.exists():
            assert time.monotonic() < deadline, "the embedded worker never beat"
            time.sleep(0.05)  # poll interval while the worker thread starts
        alive = labelloop("worker", "--check", env=env)
        assert alive.returncode == 0, alive.stderr
        assert "alive" in alive.stdout
    with serve(db_url, tmp_path / "quiet", "--no-worker"):
        idle = labelloop("worker", "--check", env=server_env(db_url, tmp_path / "quiet"))
        assert idle.returncode == 1 and "no training worker has run on this host" in idle.stderr


def test_heartbeat_touches_at_most_once_per_interval(tmp_path: Path) -> None:
    path = tmp_path / "beats" / "worker-host"
    beat = Heartbeat(path, every=3600)
    beat.beat()
    os.utime(path, (1, 1))
    beat.beat()  # within the interval: no write
    assert path.stat().st_mtime == 1
    Heartbeat(path, every=0).beat()
    assert path.stat().st_mtime > 1
