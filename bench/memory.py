"""Memory and disk against the number of projects: RSS of the web and worker processes.

A real `labelloop serve` (its embedded worker; `--processes two`: `serve --no-worker` and
`labelloop worker`) on a fresh SQLite database and data directory. Projects of `--items`
synthetic items (the texts of `bench/rerank.py`, each project
its own, `--labels` of them labelled) are bulk-inserted up to each count of `--projects`; each
new project is trained once (its first run builds its feature cache). Then, per count: the
RSS of the processes summed while idle (mean over `--idle` seconds, after every first run),
its peak while one project retrains, its peak over the first runs, and the data directory's
size against the raw text's; the web process's own RSS at the end of the idle window (with
`--processes two`, the web process that never trains) and, on stderr, how long it took to
answer `/health`. RSS is sampled every 0.1 s (psutil: both processes and any
children). For a before/after comparison, run this script from each checkout (it runs the
code of the tree it is in).

    .venv/bin/python bench/memory.py --projects 1,3,10 --items 100000
    .venv/bin/python bench/memory.py --projects 1,3 --items 2000 --features minilm
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from sqlalchemy import insert, select, update

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.config import Settings  # noqa: E402
from app.db import Database, open_database  # noqa: E402
from app.items.service import random_key, text_hash  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.models import Annotation, Item, Project, TrainingRun  # noqa: E402
from app.projects.schemas import ProjectCreate  # noqa: E402
from app.projects.service import create_project  # noqa: E402
from app.training import service as training  # noqa: E402
from bench.rerank import synthetic_text, topic_vocabulary  # noqa: E402
from tests.server import free_port, wait_until_up  # noqa: E402

MB = 1024 * 1024
CLASSES = 10


class Sampler:
    """Sums the RSS of some processes (and their children) every ``interval`` seconds."""

    def __init__(self, pids: list[int], interval: float = 0.1) -> None:
        self.procs = [psutil.Process(pid) for pid in pids]
        self.interval, self.peak, self._stop = interval, 0, threading.Event()
        self.samples: list[int] = []
        threading.Thread(target=self._run, daemon=True).start()

    def rss(self, only: int | None = None) -> int:
        """The processes' RSS summed now (``only``: the one at that index, with its children)."""
        total = 0
        for proc in self.procs if only is None else self.procs[only : only + 1]:
            try:
                family = [proc, *proc.children(recursive=True)]
            except psutil.NoSuchProcess:  # a short-lived child (ldconfig) came and went
                family = [proc]
            for p in family:
                with contextlib.suppress(psutil.NoSuchProcess):
                    total += p.memory_info().rss
        return total

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            value = self.rss()
            self.samples.append(value)
            self.peak = max(self.peak, value)

    def window(self) -> None:
        """Start a new measuring window (peak and samples reset)."""
        self.samples, self.peak = [], self.rss()

    def stop(self) -> None:
        self._stop.set()


def add_project(db: Database, index: int, args: argparse.Namespace) -> tuple[int, int]:
    """One project of ``args.items`` items, ``args.labels`` labelled; (id, raw text bytes)."""
    rng = np.random.default_rng(index)
    vocab = topic_vocabulary(CLASSES, rng)
    labels = [f"topic{c}" for c in range(CLASSES)]
    spec = ProjectCreate(name=f"memory-{index}", labels=labels, features=args.features)
    with db.writer() as session, session.begin():
        project = create_project(session, spec)
        pid, seed = project.id, project.random_seed
    gold = rng.integers(CLASSES, size=args.items)
    raw = 0
    for start in range(0, args.items, 20_000):
        rows = []
        for i in range(start, min(args.items, start + 20_000)):
            body = synthetic_text(i, int(gold[i]), vocab, rng)
            raw += len(body.encode())
            digest = text_hash(body)
            key = random_key(seed, digest)
            rows.append(
                {"project_id": pid, "external_id": str(i), "text": body, "text_hash": digest}
                | {"random_key": key}
            )
        with db.writer() as session, session.begin():
            session.execute(insert(Item), rows)
    _label(db, pid, labels, gold, args.labels)
    return pid, raw


def _label(db: Database, pid: int, labels: list[str], gold: np.ndarray, n: int) -> None:
    with db.writer() as session, session.begin():
        ids = session.scalars(
            select(Item.id).where(Item.project_id == pid).order_by(Item.id).limit(n)
        ).all()
        rows = [
            {"project_id": pid, "item_id": item_id, "labels": [labels[int(gold[k])]]}
            | {"source": "import"}
            for k, item_id in enumerate(ids)
        ]
        session.execute(insert(Annotation), rows)
        session.execute(
            update(Project).where(Project.id == pid).values(label_events=n, pool_version=1)
        )


def train(db: Database, pids: list[int], timeout: float = 3600) -> None:
    """Queue a run for each project and wait until none is queued or running."""
    with db.writer() as session, session.begin():
        queued = [training.queue_run(session, pid, reason="manual").id for pid in pids]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.reader() as session:
            runs = session.scalars(select(TrainingRun).where(TrainingRun.id.in_(queued))).all()
            if all(run.status in ("succeeded", "failed") for run in runs):
                failed = [run.error for run in runs if run.status == "failed"]
                if failed:
                    raise RuntimeError(f"training failed: {failed[0]}")
                return
        time.sleep(0.2)  # the worker's own poll interval is 0.1 s
    raise TimeoutError("training did not finish")


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def measure(args: argparse.Namespace, work: Path) -> list[dict[str, Any]]:
    settings = Settings(data_dir=work / "data")
    settings.data_dir.mkdir(parents=True)
    upgrade(settings.sqlalchemy_url)
    db = open_database(settings.sqlalchemy_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABELLOOP_")}
    env |= {"LABELLOOP_DATA_DIR": str(settings.data_dir), "LABELLOOP_WORKER_POLL_SECONDS": "0.1"}
    port = free_port()
    serve = ["serve", "--port", str(port), "--log-level", "warning"]
    commands = [serve] if args.processes == "one" else [[*serve, "--no-worker"], ["worker"]]
    started = time.perf_counter()
    procs = [_start(ROOT, cmd, env, work / f"{cmd[0]}.log") for cmd in commands]
    try:
        wait_until_up(f"http://127.0.0.1:{port}", procs[0], work / "serve.log", timeout=300)
        print(f"web process up in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        if procs[-1].poll() is not None:
            raise RuntimeError(f"the worker exited:\n{(work / 'worker.log').read_text()}")
        sampler = Sampler([p.pid for p in procs])
        return _levels(args, db, sampler, settings.data_dir)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(30)
        db.dispose()


def _levels(
    args: argparse.Namespace, db: Database, sampler: Sampler, data_dir: Path
) -> list[dict[str, Any]]:
    pids: list[int] = []
    raw = 0
    out = []
    for count in args.projects:
        sampler.window()
        while len(pids) < count:
            pid, size = add_project(db, len(pids), args)
            pids.append(pid)
            raw += size
            train(db, [pid])
        first_runs = sampler.peak
        time.sleep(1.0)  # the worker back to polling
        sampler.window()
        time.sleep(args.idle)
        idle = float(np.mean(sampler.samples)) if sampler.samples else float(sampler.rss())
        web_idle = sampler.rss(only=0)
        sampler.window()
        train(db, [pids[0]])
        row = {"projects": count, "idle": idle / MB, "web_idle": web_idle / MB}
        row |= {"one_trains": sampler.peak / MB}
        row |= {"first_runs": first_runs / MB, "data": du(data_dir) / MB}
        row |= {"features": du(data_dir / "projects") / MB, "raw": raw / MB}
        out.append(row)
        print(_cells(row), flush=True)
    return out


def _start(root: Path, cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "app.cli", *cmd], env=env, cwd=root, stdout=out, stderr=out
        )


def _cells(row: dict[str, Any]) -> str:
    cells = [row["projects"], *(f"{row[k]:.0f}" for k in COLUMNS[1:])]
    return "| " + " | ".join(str(c) for c in cells) + " |"


DEPLOYMENTS = {
    "one": "labelloop serve (embedded worker)",
    "two": "labelloop serve --no-worker + labelloop worker",
}
COLUMNS = ("projects", "idle", "web_idle", "one_trains", "first_runs", "data", "features", "raw")
HEADER = (
    "projects",
    "idle RSS MB",
    "web process idle MB",
    "peak RSS MB, one retrains",
    "peak RSS MB, first runs",
    "data dir MB",
    "project files MB",
    "raw text MB",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", default="1,3,10")
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--labels", type=int, default=2000)
    parser.add_argument("--features", choices=("tfidf", "minilm", "both"), default="tfidf")
    parser.add_argument(
        "--processes",
        choices=("one", "two"),
        default="one",
        help="one: labelloop serve with its embedded worker (the default deployment); two: "
        "serve --no-worker and labelloop worker",
    )
    parser.add_argument("--idle", type=float, default=5.0, help="seconds sampled while idle")
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    args.projects = sorted(int(n) for n in args.projects.split(",") if n)
    print(
        f"{args.items:,} items a project ({args.features}, {args.labels} labelled), "
        f"{DEPLOYMENTS[args.processes]}; RSS summed"
    )
    print("| " + " | ".join(HEADER) + " |")
    print("|" + "---|" * len(HEADER))
    with tempfile.TemporaryDirectory(prefix="memory-", dir=args.workdir) as tmp:
        measure(args, Path(tmp))


if __name__ == "__main__":
    main()
