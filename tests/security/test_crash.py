"""Crash safety (issue 5, R4): SIGKILL the web process, the worker, or both at seeded random
moments under R1 load (and in the middle of a multipart import), restart, go on, and check
that no acknowledged label was lost or doubled, no file was half-imported, no run was left
'running' and the published ranking is complete.

Reduced size by default; ``LABELLOOP_TEST_FULL=1`` runs more kills and clients and starts
every process as a cold interpreter. The reduced run forks each ``labelloop serve`` /
``labelloop worker`` from a forkserver that has imported the app once (a cold start spends
seconds importing scikit-learn): each fork is still a process of its own that runs the CLI
command and opens its database connections after the crash. ``LABELLOOP_CRASH_SEED`` picks
other random moments.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import multiprocessing
import multiprocessing.forkserver
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from app import cli
from app.db import Database
from app.models import Annotation, Item, ModelVersion, Project, RankEntry, RunStatus, TrainingRun
from tests.factories import TOPICS, auth, create_project, create_user
from tests.server import ROOT, free_port, server_env, wait_until_up

pytestmark = pytest.mark.process

FULL = os.environ.get("LABELLOOP_TEST_FULL") == "1"
# kills per kind, concurrent clients, pool size, labels acknowledged between two kills
ITERATIONS, CLIENTS, POOL, ACKS_BETWEEN = (10, 20, 20_000, 40) if FULL else (3, 6, 4_000, 10)
KINDS = ("web", "worker", "both")
SEED = int(os.environ.get("LABELLOOP_CRASH_SEED", "5"))
MAX_KILL_DELAY = 0.4  # seconds after the trigger condition; the kill lands uniformly within
HEARTBEAT_SECONDS, STALE_SECONDS = 0.2, 2.0
RANKING_DEPTH = 300
IMPORT_ROWS = 3_000
DEADLINE = 240.0 if FULL else 90.0
POLL = 0.02  # interval of the loops that wait on a database condition


# --- processes ---------------------------------------------------------------------------


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


@pytest.fixture(scope="module", autouse=True)
def _stop_forkserver() -> Iterator[None]:
    """The forkserver holds the imported app in memory: stop it after this module."""
    yield
    stop = getattr(multiprocessing.forkserver._forkserver, "_stop", None)
    if stop is not None:
        stop()


# --- R1 load -----------------------------------------------------------------------------


def _oracle(text: str) -> str:
    """The true label of a factory text (its topic phrase)."""
    return next(
        label for label, phrases in TOPICS.items() if any(text.startswith(p) for p in phrases)
    )


@dataclass
class Load:
    """R1 load: every client fetches one item from the queue, labels it, and repeats.

    A request cut by a kill is sent again once the driver reports the server back (``up``);
    only a 2xx answer counts as acknowledged. Even-numbered clients send an Idempotency-Key.
    """

    url: str
    project_id: int
    tokens: list[str]
    up: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)
    changed: threading.Condition = field(default_factory=threading.Condition)
    acked: dict[tuple[int, str], str] = field(default_factory=dict)  # (item, client): label
    failures: list[str] = field(default_factory=list)
    cut: int = 0  # requests that met a killed server
    posts_cut: int = 0  # labels acknowledged only on a retry after a cut
    stored_before_cut: int = 0  # ... whose cut request had already been stored
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        self.up.set()
        self.threads = [threading.Thread(target=self._client, args=(k,)) for k in self.clients]
        for thread in self.threads:
            thread.start()

    @property
    def clients(self) -> range:
        return range(len(self.tokens))

    def wait_for_acks(self, more: int) -> None:
        """Wait until ``more`` labels beyond the current count are acknowledged."""
        target = len(self.acked) + more
        with self.changed:
            done = self.changed.wait_for(
                lambda: len(self.acked) >= target or bool(self.failures), timeout=DEADLINE
            )
        assert not self.failures, self.failures
        assert done, f"only {len(self.acked)} of {target} labels acknowledged"

    def finish(self) -> None:
        self.stop.set()
        self.up.set()
        for thread in self.threads:
            thread.join()

    def _client(self, k: int) -> None:
        name, base = f"c{k}", f"/api/v1/projects/{self.project_id}"
        with httpx.Client(base_url=self.url, headers=auth(self.tokens[k]), timeout=60) as api:
            for seq in itertools.count():
                got, _ = self._send(api, "GET", f"{base}/queue", params={"limit": 1})
                if got is None or not self._ok(got, name) or not self._served(got, name):
                    return
                item = got.json()["items"][0]
                body = {"item_id": item["id"], "label": _oracle(item["text"])}
                headers = {"Idempotency-Key": f"{name}-{seq}"} if k % 2 == 0 else {}
                posted, cuts = self._send(
                    api, "POST", f"{base}/annotations", json=body, headers=headers
                )
                if posted is None or not self._ok(posted, name):
                    return
                with self.changed:
                    self.acked[(item["id"], name)] = body["label"]
                    if cuts:  # answered on a retry: was the cut request already stored?
                        self.posts_cut += 1
                        self.stored_before_cut += posted.status_code == 200 or (
                            posted.headers.get("Idempotent-Replayed") == "true"
                        )
                    self.changed.notify_all()

    def _send(
        self, api: httpx.Client, method: str, url: str, **kwargs: object
    ) -> tuple[httpx.Response | None, int]:
        """The server's answer (None once the load is stopped), and how often a kill cut it."""
        cuts = 0
        while not self.stop.is_set():
            try:
                return api.request(method, url, **kwargs), cuts  # type: ignore[arg-type]
            except httpx.TransportError:
                cuts += 1
                with self.changed:
                    self.cut += 1
                while not self.up.wait(timeout=1):
                    if self.stop.is_set():
                        return None, cuts
        return None, cuts

    def _ok(self, response: httpx.Response, name: str) -> bool:
        if response.is_success:
            return True
        self._fail(
            f"{name}: {response.request.method} {response.status_code} {response.text[:200]}"
        )
        return False

    def _served(self, response: httpx.Response, name: str) -> bool:
        if response.json()["items"]:
            return True
        self._fail(f"{name}: the queue is empty (make the pool larger)")
        return False

    def _fail(self, message: str) -> None:
        with self.changed:
            self.failures.append(message)
            self.changed.notify_all()


# --- imports killed mid-request --------------------------------------------------------------


@dataclass
class Upload:
    """One multipart import of an ``IMPORT_ROWS``-row CSV, sent from a thread."""

    number: int
    sent: threading.Event = field(default_factory=threading.Event)
    status: int | None = None
    thread: threading.Thread | None = None


def start_upload(url: str, project_id: int, token: str, number: int) -> Upload:
    """POST the file; ``sent`` is set once the whole body is on the wire (or the send failed)."""
    upload = Upload(number)
    boundary = uuid.uuid4().hex
    rows = "".join(f"f{number}-{i},crash file {number} row {i}\r\n" for i in range(IMPORT_ROWS))
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="crash-{number}.csv"\r\nContent-Type: text/csv\r\n\r\n'
        f"id,text\r\n{rows}\r\n--{boundary}--\r\n"
    ).encode()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 1 << 16):
            yield body[start : start + (1 << 16)]
        upload.sent.set()

    def send() -> None:
        headers = {**auth(token), "Content-Type": f"multipart/form-data; boundary={boundary}"}
        try:
            response = httpx.post(
                f"{url}/api/v1/projects/{project_id}/imports",
                content=chunks(),
                headers=headers,
                timeout=60,
            )
            upload.status = response.status_code
        except httpx.TransportError:
            pass  # cut by the kill: not acknowledged
        finally:
            upload.sent.set()

    upload.thread = threading.Thread(target=send)
    upload.thread.start()
    return upload


def imported_rows(db: Database, project_id: int, number: int) -> int:
    with db.reader() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(Item)
                .where(Item.project_id == project_id, Item.external_id.like(f"f{number}-%"))
            )
            or 0
        )


# --- database checks ---------------------------------------------------------------------


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


# --- the test ----------------------------------------------------------------------------


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
