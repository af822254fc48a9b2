"""`labelloop serve --workers 2`: two web processes answer, one trainer, one run at a time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from app.db import Database
from app.models import TrainingRun
from tests.factories import create_project, create_user
from tests.server import free_port, running, server_env, wait_until_up

pytestmark = pytest.mark.process

STARTUP_SECONDS = 300  # two web processes import the app at once; slow on a busy machine


def _pinned_clients(url: str, token: str, stack: ExitStack) -> dict[str, httpx.Client]:
    """One client per web process: each holds a single keep-alive connection, and which
    process accepted it is what ``/health`` reports as ``instance``."""
    clients: dict[str, httpx.Client] = {}
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:  # until the second process accepts a connection
        client = httpx.Client(
            base_url=url,
            headers={"Authorization": f"Bearer {token}"},
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            timeout=60,
        )
        instance = client.get("/health").json()["instance"]
        if instance in clients:
            client.close()
            continue
        stack.callback(client.close)
        clients[instance] = client
        if len(clients) == 2:
            return clients
    raise AssertionError(f"only one web process answered in {STARTUP_SECONDS} s")


def _label_through(client: httpx.Client, base: str, n: int) -> None:
    for item in client.get(f"{base}/queue", params={"limit": n}).json()["items"]:
        body = {"item_id": item["id"], "label": "food"}
        assert client.post(f"{base}/annotations", json=body).status_code == 201


def _runs(db: Database) -> list[TrainingRun]:
    with db.reader() as session:
        return list(
            session.scalars(
                select(TrainingRun)
                .where(TrainingRun.status == "succeeded")
                .order_by(TrainingRun.started_at)
            )
        )


def _serve_workers(db_url: str, data: Path) -> Iterator[tuple[str, int]]:
    env = server_env(db_url, data, LABELLOOP_WORKER_POLL_SECONDS="0.02")
    port = free_port()
    log = data.parent / "serve-workers.log"
    data.mkdir(parents=True, exist_ok=True)
    args = ("serve", "--port", str(port), "--workers", "2", "--log-level", "warning")
    with running(*args, env=env, log=log) as proc:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url, proc, log, timeout=STARTUP_SECONDS)
        try:
            yield url, proc.pid
        except BaseException:
            print(f"--- server log ---\n{log.read_text()[-8000:]}")  # shown by pytest on failure
            raise


def test_two_web_processes_share_one_trainer(db_url: str, db: Database, tmp_path: Path) -> None:
    project = create_project(db, n_items=300, n_labeled=30, batch_size=2)
    _, token = create_user(db)
    base = f"/api/v1/projects/{project.id}"
    serving = _serve_workers(db_url, tmp_path / "data")
    url, supervisor_pid = next(serving)
    try:
        with ExitStack() as stack:
            clients = _pinned_clients(url, token, stack)
            for _ in range(6):  # labels through both processes; each pair queues a run
                for client in clients.values():
                    _label_through(client, base, 2)
            any_client = next(iter(clients.values()))
            deadline = time.monotonic() + 120
            while any_client.get(f"{base}/model").json()["status"] != "idle":
                assert time.monotonic() < deadline, "training did not settle"
                time.sleep(0.05)  # poll interval while waiting for the runs to finish
            counts = any_client.get(base).json()
    finally:
        serving.close()
    assert counts["n_labeled"] == 30 + 24
    runs = _runs(db)
    assert len(runs) >= 2
    for before, after in zip(runs, runs[1:], strict=False):
        assert before.finished_at <= after.started_at, "two runs of one project overlapped"
    trainers = {run.worker for run in runs}
    assert len(trainers) == 1, f"one trainer expected, runs were claimed by {trainers}"
    (trainer,) = trainers
    assert f":{supervisor_pid}:" in trainer, "the supervising process trains, not a web process"
