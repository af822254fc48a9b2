"""The crash test's database checks: runs left running, the ranking, labels stored and exported."""

from __future__ import annotations

import csv
import io
import json
import time

import httpx
from sqlalchemy import func, select

from app.db import Database
from app.models import Annotation, Item, ModelVersion, Project, RankEntry, RunStatus, TrainingRun
from tests.factories import auth
from tests.security.crash_cluster import DEADLINE, Proc

RANKING_DEPTH = 300
POLL = 0.02  # interval of the loops that wait on a database condition


def running_runs(db: Database, pid: int) -> list[int]:
    """Ids of the runs in status 'running' claimed by the worker process ``pid``."""
    with db.reader() as session:
        rows = session.execute(
            select(TrainingRun.id, TrainingRun.worker).where(
                TrainingRun.status == RunStatus.RUNNING
            )
        ).all()
    return [run_id for run_id, worker in rows if worker and worker.split(":")[-2] == str(pid)]


def wait_for_running_run(db: Database, worker: Proc) -> None:
    deadline = time.monotonic() + DEADLINE
    while not running_runs(db, worker.pid):
        assert worker.poll() is None, f"the worker exited with {worker.poll()} (see its log)"
        assert time.monotonic() < deadline, f"worker {worker.pid} claimed no run in {DEADLINE}s"
        time.sleep(POLL)


def wait_until_settled(db: Database) -> None:
    """Wait until no run is queued or running (orphans need the stale timeout first)."""
    deadline = time.monotonic() + DEADLINE
    while True:
        with db.reader() as session:
            busy = session.execute(
                select(TrainingRun.id, TrainingRun.status).where(
                    TrainingRun.status.in_([RunStatus.QUEUED, RunStatus.RUNNING])
                )
            ).all()
        if not busy:
            return
        assert time.monotonic() < deadline, f"runs still queued or running: {busy}"
        time.sleep(POLL)


def check_ranking_complete(db: Database, project_id: int, *, published: bool = True) -> None:
    """The current version ranks min(depth, unlabelled pool at its snapshot) distinct items.

    ``published=False``: no model published yet is fine (the first run may not be done).
    Read in one snapshot, as a publish may run meanwhile.
    """
    with db.reader() as session:
        session.connection(execution_options={"isolation_level": "SERIALIZABLE"})
        version_id = session.scalar(
            select(Project.current_model_id).where(Project.id == project_id)
        )
        if version_id is None and not published:
            return
        assert version_id is not None, "no model was published"
        version = session.get_one(ModelVersion, version_id)
        n_items = session.scalar(
            select(func.count()).select_from(Item).where(Item.project_id == project_id)
        )
        rows = session.execute(
            select(RankEntry.rank, RankEntry.item_id).where(
                RankEntry.model_version_id == version_id
            )
        ).all()
    ranks, items = sorted(rank for rank, _ in rows), {item for _, item in rows}
    expected = min(RANKING_DEPTH, (n_items or 0) - version.n_labels)
    assert ranks == list(range(expected)), (
        f"version {version.version}: {len(ranks)} rank entries, expected {expected}"
    )
    assert len(items) == expected, f"version {version.version} ranks an item twice"


def duplicate_rows(db: Database) -> list[tuple[int, int | None]]:
    with db.reader() as session:
        return [
            (item_id, user_id)
            for item_id, user_id in session.execute(
                select(Annotation.item_id, Annotation.user_id)
                .group_by(Annotation.item_id, Annotation.user_id)
                .having(func.count() > 1)
            )
        ]


def exported(url: str, project_id: int, token: str, fmt: str) -> list[tuple[int, str, str]]:
    """(item id, annotator, label) of every exported row."""
    response = httpx.get(
        f"{url}/api/v1/projects/{project_id}/export",
        params={"format": fmt},
        headers=auth(token),
        timeout=120,
    )
    assert response.status_code == 200, response.text[:300]
    if fmt == "csv":
        rows = csv.DictReader(io.StringIO(response.text))
        return [(int(r["item_id"]), r["annotator"], r["label"]) for r in rows]
    lines = [json.loads(line) for line in response.text.splitlines()]
    return [(r["item_id"], r["annotator"] or "", r["label"]) for r in lines]
