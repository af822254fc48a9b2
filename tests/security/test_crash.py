"""Crash safety (issue 5, R4): SIGKILL the web process, the worker, or both at seeded random
moments under R1 load (and in the middle of a multipart import), restart, go on, and check
that no acknowledged label was lost or doubled, no file was half-imported, no run was left
'running' and the published ranking is complete.

Reduced size by default; ``LABELLOOP_TEST_FULL=1`` runs more kills and clients and starts
every process as a cold interpreter. The reduced run forks each ``labelloop serve`` /
``labelloop worker`` from a forkserver that has imported the app once (``tests.forked``):
each fork is still a process of its own that runs the CLI command and opens its database
connections after the crash. ``LABELLOOP_CRASH_SEED`` picks
other random moments.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import select

from app.db import Database
from app.models import Project, RunStatus, TrainingRun
from tests.factories import create_project, create_user
from tests.security.crash_checks import (
    RANKING_DEPTH,
    check_ranking_complete,
    duplicate_rows,
    exported,
    running_runs,
    wait_for_running_run,
    wait_until_settled,
)
from tests.security.crash_cluster import DEADLINE, FULL, Cluster
from tests.security.crash_load import IMPORT_ROWS, Load, Upload, imported_rows, start_upload
from tests.server import server_env

pytestmark = pytest.mark.process

# kills per kind, concurrent clients, pool size, labels acknowledged between two kills
ITERATIONS, CLIENTS, POOL, ACKS_BETWEEN = (10, 20, 20_000, 40) if FULL else (3, 6, 4_000, 10)
KINDS = ("web", "worker", "both")
SEED = int(os.environ.get("LABELLOOP_CRASH_SEED", "5"))
MAX_KILL_DELAY = 0.4  # seconds after the trigger condition; the kill lands uniformly within
HEARTBEAT_SECONDS, STALE_SECONDS = 0.2, 2.0


@dataclass
class Crashes:
    """The kill-and-restart iterations against one database, and what they left behind."""

    db: Database
    cluster: Cluster
    load: Load
    files_id: int  # the project the killed imports go to
    admin: str
    rng: random.Random
    import_seconds: float = 0.0  # body sent to answer, for an import nobody kills
    kills: Counter[str] = field(default_factory=Counter)
    orphans: list[int] = field(default_factory=list)  # runs left 'running' by a killed worker
    imports: Counter[str] = field(default_factory=Counter)
    files_complete: int = 0
    lost: int = 0
    duplicates: int = 0
    stored_unacked: int = 0  # labels stored whose answer a kill cut off

    def calibrate_import(self) -> None:
        """Import one file undisturbed, to time the window the killed imports land in."""
        upload = start_upload(self.cluster.url, self.files_id, self.admin, -1)
        upload.sent.wait(DEADLINE)
        began = time.monotonic()
        self.check_upload(upload)
        self.import_seconds = time.monotonic() - began
        assert upload.status == 201, f"the undisturbed import answered {upload.status}"

    def crash(self, kind: str, number: int) -> None:
        """One iteration: wait for the trigger, kill at a random moment, restart, check."""
        cluster, load = self.cluster, self.load
        load.wait_for_acks(ACKS_BETWEEN)
        if kind != "web":  # a run is training on the worker
            assert cluster.worker is not None
            wait_for_running_run(self.db, cluster.worker)
        upload, window = None, MAX_KILL_DELAY
        if kind != "worker":  # an import is in flight: its body is sent, the server is on it
            upload = start_upload(cluster.url, self.files_id, self.admin, number)
            upload.sent.wait(DEADLINE)
            window = 1.5 * self.import_seconds
        time.sleep(self.rng.uniform(0, window))  # the random moment of the kill
        if kind != "worker":
            load.up.clear()
            cluster.kill(cluster.web)
        if kind != "web":
            pid = cluster.kill(cluster.worker)
            self.orphans += running_runs(self.db, pid)
            cluster.start_worker()
        if kind != "worker":
            cluster.start_web()
            load.up.set()
        self.kills[kind] += 1
        if upload is not None:
            self.check_upload(upload)
        check_ranking_complete(self.db, load.project_id, published=False)

    def check_upload(self, upload: Upload) -> None:
        """All of the file or none of it; all of it if it was acknowledged."""
        assert upload.thread is not None
        upload.thread.join(DEADLINE)
        rows = imported_rows(self.db, self.files_id, upload.number)
        assert rows in (0, IMPORT_ROWS), f"file {upload.number} is half-imported: {rows} rows"
        acked = upload.status is not None and 200 <= upload.status < 300
        assert upload.status is None or acked, f"file {upload.number} answered {upload.status}"
        assert rows == IMPORT_ROWS or not acked, f"acknowledged file {upload.number} is missing"
        if upload.number >= 0:
            stored = "stored unacknowledged" if rows else "not stored"
            self.imports["acknowledged" if acked else stored] += 1
        self.files_complete += rows == IMPORT_ROWS

    def count_labels(self) -> None:
        """Compare the acknowledged labels with the database and with both exports."""
        self.duplicates = len(duplicate_rows(self.db))
        acked = self.load.acked
        for fmt in ("csv", "jsonl"):
            rows = exported(self.cluster.url, self.load.project_id, self.admin, fmt)
            rows = [r for r in rows if r[1]]  # the seed labels have no annotator
            counts = Counter((item, who) for item, who, _ in rows)
            labels = {(item, who): label for item, who, label in rows}
            self.lost = max(self.lost, sum(counts[key] == 0 for key in acked))
            self.duplicates += sum(n > 1 for n in counts.values())
            changed = [key for key, label in acked.items() if labels.get(key, label) != label]
            assert changed == [], f"{fmt}: acknowledged labels exported with another label"
            self.stored_unacked = len(counts) - len(acked)

    def check_runs(self) -> None:
        """No run left running; each orphan failed by the heartbeat check, then a newer success."""
        with self.db.reader() as session:
            runs = {run.id: run for run in session.scalars(select(TrainingRun))}
            pool_version = session.scalar(
                select(Project.pool_version).where(Project.id == self.files_id)
            )
        assert not [r.id for r in runs.values() if r.status == RunStatus.RUNNING], "run stuck"
        assert self.orphans, "no kill landed while a run was training"
        for run_id in self.orphans:
            assert runs[run_id].status == RunStatus.FAILED
            assert "stopped responding" in (runs[run_id].error or "")
            assert any(r.id > run_id and r.status == RunStatus.SUCCEEDED for r in runs.values()), (
                f"no run succeeded after run {run_id} was recovered"
            )
        assert pool_version == self.files_complete, "pool_version counts the imported files"

    def summary(self, backend: str, seconds: float) -> str:
        return (
            f"crash[{backend}]: kills {dict(self.kills)}, {len(self.load.acked)} labels "
            f"acknowledged, {self.lost} lost, {self.duplicates} duplicates, "
            f"{self.stored_unacked} stored unacknowledged; {self.load.cut} requests cut, "
            f"{self.load.posts_cut} label posts acknowledged on a retry "
            f"({self.load.stored_before_cut} stored before the cut); "
            f"{len(self.orphans)} runs recovered; killed imports {dict(self.imports)} "
            f"({self.import_seconds:.2f} s undisturbed); {seconds:.1f} s"
        )


def test_kill_9_loses_no_acknowledged_label_and_leaves_nothing_half_done(
    backend: str, db_url: str, db: Database, tmp_path: Path
) -> None:
    began = time.monotonic()
    project = create_project(db, n_items=POOL, n_labeled=30, batch_size=5)
    files = create_project(db, name="imports")
    _, admin = create_user(db)
    tokens = [create_user(db, name=f"c{k}", role="annotator")[1] for k in range(CLIENTS)]
    env = server_env(
        db_url,
        tmp_path / "data",
        LABELLOOP_WORKER_POLL_SECONDS="0.05",
        LABELLOOP_WORKER_HEARTBEAT_SECONDS=str(HEARTBEAT_SECONDS),
        LABELLOOP_WORKER_STALE_SECONDS=str(STALE_SECONDS),
        LABELLOOP_RANKING_DEPTH=str(RANKING_DEPTH),
        LABELLOOP_CV_FOLDS="2",
    )
    cluster = Cluster(env, tmp_path)
    rng = random.Random(f"{SEED}-{backend}")
    plan = [kind for kind in KINDS for _ in range(ITERATIONS)]
    rng.shuffle(plan)
    try:
        cluster.start_worker()
        cluster.start_web()
        load = Load(cluster.url, project.id, tokens)
        crashes = Crashes(db, cluster, load, files.id, admin, rng)
        load.start()
        try:
            crashes.calibrate_import()
            for number, kind in enumerate(plan):
                crashes.crash(kind, number)
            load.wait_for_acks(ACKS_BETWEEN)  # the load goes on after the last restart
        finally:
            load.finish()
        wait_until_settled(db)
        crashes.count_labels()
        print(f"\n{crashes.summary(backend, time.monotonic() - began)}")
        assert (crashes.lost, crashes.duplicates) == (0, 0), "acknowledged labels lost or doubled"
        crashes.check_runs()
        check_ranking_complete(db, project.id)
    except BaseException:
        for log in sorted(tmp_path.glob("*.log"), key=lambda p: p.stat().st_mtime)[-3:]:
            print(f"--- {log.name} ---\n{log.read_text()[-3000:]}")
        raise
    finally:
        cluster.close()
