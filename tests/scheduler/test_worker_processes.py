"""`labelloop serve` (embedded worker) and `labelloop worker` together: one run at a time."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from app.db import Database
from app.models import TrainingRun
from tests.factories import create_project, create_user
from tests.server import running, serve, server_env

pytestmark = pytest.mark.process


def test_serve_and_worker_never_train_a_project_at_once(
    db_url: str, db: Database, tmp_path: Path
) -> None:
    project = create_project(db, n_items=300, n_labeled=30, batch_size=1)
    _, token = create_user(db)
    data = tmp_path / "data"
    env = server_env(db_url, data, LABELLOOP_WORKER_POLL_SECONDS="0.02")
    log = tmp_path / "worker.log"
    with (
        serve(
            db_url,
            data,
            LABELLOOP_WORKER_POLL_SECONDS="0.02",
            LABELLOOP_RATE_LIMIT_TRAIN="100000/minute",  # asked back to back until 3 runs
        ) as url,
        running("worker", env=env, log=log),
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as api,
    ):
        deadline = time.monotonic() + 60
        while "started" not in log.read_text():
            assert time.monotonic() < deadline, "the worker process did not start"
            time.sleep(0.05)  # poll interval while waiting for the worker to start
        base = f"/api/v1/projects/{project.id}"
        # Labels and manual runs until three runs have succeeded (however slow the machine:
        # triggers that arrive while a run is queued fold into it).
        deadline = time.monotonic() + 240
        while _succeeded(api, base) < 3:
            assert time.monotonic() < deadline, "three runs did not succeed in time"
            for item in api.get(f"{base}/queue", params={"limit": 2}).json()["items"]:
                body = {"item_id": item["id"], "label": "food"}
                assert api.post(f"{base}/annotations", json=body).status_code == 201
            assert api.post(f"{base}/train").status_code == 202
        deadline = time.monotonic() + 120
        while api.get(f"{base}/model").json()["status"] != "idle":
            assert time.monotonic() < deadline, "training did not settle"
            time.sleep(0.05)  # poll interval while waiting for the runs to finish
    with db.reader() as session:
        runs = session.scalars(
            select(TrainingRun)
            .where(TrainingRun.status == "succeeded")
            .order_by(TrainingRun.started_at)
        ).all()
    assert len(runs) >= 3
    for before, after in zip(runs, runs[1:], strict=False):
        assert before.finished_at <= after.started_at, "two runs of one project overlapped"
    # Which process wins each claim is up to timing; the claim race itself is pinned down
    # deterministically in tests/training/test_service.py.


def _succeeded(api: httpx.Client, base: str) -> int:
    return sum(run["status"] == "succeeded" for run in api.get(f"{base}/runs").json())
