"""Freshness: from the last label of a batch to the new ranking served, at 10k / 100k / 1M items.

Each pool size runs in its own process (so peak RSS is that size's): a fresh database
(SQLite file, or a PostgreSQL database created and dropped), a TF-IDF project of `--classes`
synthetic topics with `--labels` labelled items, bulk-inserted. A first training run builds
the feature cache (reported as "first run"); then an annotator labels one batch through the
annotation service and the time from that commit to the new ranking being the published one
is measured, with the run's own split (snapshot, features, fit, score, publish). The worker is
called in-process right after the commit, so the figure leaves out the worker's poll interval
(`LABELLOOP_WORKER_POLL_SECONDS`, 0.2 s by default). Cross-validation runs after the publish
and is reported apart.

    .venv/bin/python bench/rerank.py --sizes 10000,100000,1000000 --backend sqlite

With `--api` the same pool is measured as a client sees it, through the HTTP API of a real
`labelloop serve` on default settings, with the warm-up on and off (`bench/rerank_api.py`):

    .venv/bin/python bench/rerank.py --api --items 100000 --repeat 6
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import create_engine, insert, select, text, update
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.annotations.service import submit  # noqa: E402
from app.config import Settings  # noqa: E402
from app.db import open_database  # noqa: E402
from app.items.service import random_key, text_hash  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.models import Annotation, Item, Project, ProjectRole, TrainingRun, User  # noqa: E402
from app.projects.members import join  # noqa: E402
from app.projects.schemas import ProjectCreate  # noqa: E402
from app.projects.service import create_project  # noqa: E402
from app.queue.service import next_items  # noqa: E402
from app.scheduler.worker import Worker  # noqa: E402
from app.training import service as training  # noqa: E402
from app.users.service import create_user  # noqa: E402

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
FILLER = [
    "please",
    "could",
    "you",
    "tell",
    "me",
    "about",
    "the",
    "thing",
    "i",
    "asked",
    "yesterday",
    "and",
    "why",
    "it",
    "is",
    "not",
    "done",
    "yet",
    "thanks",
    "a",
    "lot",
    "for",
    "any",
    "help",
    "with",
    "this",
    "today",
]


def topic_vocabulary(n_classes: int, rng: np.random.Generator) -> list[list[str]]:
    """Ten made-up keywords per class: texts mix 3 of them with 8 shared filler words."""
    return [[f"w{c}x{k}{rng.integers(1000)}" for k in range(10)] for c in range(n_classes)]


def synthetic_text(i: int, label: int, vocab: list[list[str]], rng: np.random.Generator) -> str:
    words = list(rng.choice(vocab[label], 3)) + list(rng.choice(FILLER, 8))
    # Some items are ambiguous: a keyword of another class, so the ranking has work to do.
    if rng.random() < 0.3:
        words.append(str(rng.choice(vocab[(label + 1) % len(vocab)])))
    rng.shuffle(words)
    return " ".join(words) + f" ref {i}"


def build_project(db: Any, n_items: int, n_labels: int, n_classes: int, batch: int) -> int:
    labels = [f"topic{c}" for c in range(n_classes)]
    spec = ProjectCreate(
        name="rerank", labels=labels, batch_size=batch, features="tfidf", diversity=True
    )
    pid, _ = create_with_annotator(db, spec)
    gold = add_items(db, pid, n_items, n_classes)
    seed_labels(db, pid, gold, n_labels)
    return pid


def create_with_annotator(db: Any, spec: ProjectCreate) -> tuple[int, str]:
    """The project, with a user "annotator" as its annotator: (project id, their API token)."""
    with db.writer() as session, session.begin():
        project = create_project(session, spec)
        annotator, token = create_user(session, name="annotator", role="annotator")
        join(session, project, annotator, ProjectRole.ANNOTATOR)
        return project.id, token


def add_items(db: Any, pid: int, n_items: int, n_classes: int) -> np.ndarray:
    """Insert `n_items` synthetic texts (external ids 0, 1, ...); returns each one's topic."""
    rng = np.random.default_rng(0)
    vocab = topic_vocabulary(n_classes, rng)
    with db.reader() as session:
        seed = session.scalar(select(Project.random_seed).where(Project.id == pid))
    gold = rng.integers(n_classes, size=n_items)
    chunk = 20_000
    for start in range(0, n_items, chunk):
        rows = []
        for i in range(start, min(n_items, start + chunk)):
            body = synthetic_text(i, int(gold[i]), vocab, rng)
            digest = text_hash(body)
            rows.append(
                {
                    "project_id": pid,
                    "external_id": str(i),
                    "text": body,
                    "text_hash": digest,
                    "random_key": random_key(seed, digest),
                }
            )
        with db.writer() as session, session.begin():
            session.execute(insert(Item), rows)
    return gold


def seed_labels(db: Any, pid: int, gold: np.ndarray, n_labels: int) -> None:
    """Label the first `n_labels` items with their topic, as an import would."""
    with db.writer() as session, session.begin():
        ids = session.scalars(
            select(Item.id).where(Item.project_id == pid).order_by(Item.id).limit(n_labels)
        ).all()
        session.execute(
            insert(Annotation),
            [
                {
                    "project_id": pid,
                    "item_id": item_id,
                    "labels": [f"topic{int(gold[k])}"],
                    "source": "import",
                }
                for k, item_id in enumerate(ids)
            ],
        )
        session.execute(
            update(Project).where(Project.id == pid).values(label_events=n_labels, pool_version=1)
        )


def one_size(n_items: int, args: argparse.Namespace) -> dict[str, Any]:
    """Measure one pool size in this process; returns the row of the table."""
    with tempfile.TemporaryDirectory(prefix="rerank-", dir=args.workdir) as tmp:
        url, drop = _database(args.backend, Path(tmp))
        try:
            return _measure(url, Path(tmp), n_items, args)
        finally:
            drop()


def _measure(url: str, tmp: Path, n_items: int, args: argparse.Namespace) -> dict[str, Any]:
    settings = Settings(database_url=url, data_dir=tmp / "data", cv_folds=3)
    upgrade(settings.sqlalchemy_url)
    db = open_database(settings.sqlalchemy_url)
    t0 = time.perf_counter()
    pid = build_project(db, n_items, args.labels, args.classes, args.batch)
    built = time.perf_counter() - t0
    worker = Worker(db, settings)
    with db.writer() as session, session.begin():
        training.queue_run(session, pid, reason="manual")
    t0 = time.perf_counter()
    worker.run_once()
    first = time.perf_counter() - t0
    first_run = _last_run(db, pid)
    if first_run.status != "succeeded":
        raise RuntimeError(f"first run failed: {first_run.error}")
    rows = []
    for _ in range(args.repeat):
        rows.append(_one_batch(db, worker, pid, args.batch))
    best = min(rows, key=lambda r: r["fresh"])
    db.dispose()
    return {
        "items": n_items,
        "build_s": round(built, 1),
        "first_run_s": round(first, 2),
        "fresh_s": best["fresh"],
        "fresh_median_s": round(float(np.median([r["fresh"] for r in rows])), 3),
        **{k: best["timings"].get(k, 0.0) for k in SPLIT},
        "cv_s": best["timings"].get("cv", 0.0),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


SPLIT = ("snapshot", "features", "fit", "score", "stop_set", "save", "publish")


def _one_batch(db: Any, worker: Worker, pid: int, batch: int) -> dict[str, Any]:
    """Label one batch as an annotator would, then run the worker; time commit -> publish."""
    with db.writer() as session, session.begin():
        project = session.get_one(Project, pid)
        user = session.scalar(select(User).where(User.name == "annotator"))
        served = next_items(session, project, user, limit=batch, lease_seconds=600).items
        for k, q in enumerate(served):
            submit(session, project, user, item_id=q.item.id, labels=[project.labels[k % 10]])
    committed = time.perf_counter()
    before = _current_model(db, pid)
    worker.run_once()
    run = _last_run(db, pid)
    if run.status != "succeeded" or _current_model(db, pid) == before:
        raise RuntimeError(f"run did not publish: {run.status} {run.error}")
    # Up to and including the publish: cross-validation runs after it.
    fresh = time.perf_counter() - committed - run.timings.get("cv", 0.0)
    return {"fresh": round(fresh, 3), "timings": run.timings}


def _current_model(db: Any, pid: int) -> int | None:
    with db.reader() as session:
        return session.scalar(select(Project.current_model_id).where(Project.id == pid))


def _last_run(db: Any, pid: int) -> TrainingRun:
    with db.reader() as session:
        return session.scalars(
            select(TrainingRun)
            .where(TrainingRun.project_id == pid)
            .order_by(TrainingRun.id.desc())
            .limit(1)
        ).one()


def _database(backend: str, tmp: Path) -> tuple[str, Any]:
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'bench.db'}", lambda: None
    name = f"ll_rerank_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(POSTGRES).set(database=name).render_as_string(hide_password=False), drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--labels", type=int, help="labelled items (2000; --api: 8)")
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--batch", type=int, help="labels per batch (20; --api: 50)")
    parser.add_argument("--repeat", type=int, default=3, help="batches measured per size")
    parser.add_argument("--workdir", default=None, help="where the temporary data goes")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    api = parser.add_argument_group("--api: through the HTTP API of a real server")
    api.add_argument("--api", action="store_true", help="measure as a client (rerank_api.py)")
    api.add_argument("--items", type=int, default=100_000, help="pool size")
    api.add_argument("--warm-up", default="on,off", help="modes: on (the default), off")
    api.add_argument("--features", default="tfidf", help="tfidf, static, minilm or default")
    api.add_argument(
        "--pre-embed", action="store_true", help="embed every item with MiniLM before serving"
    )
    api.add_argument("--poll", type=float, default=0.02, help="client's poll interval, s")
    args = parser.parse_args()
    args.labels = args.labels or (8 if args.api else 2000)
    args.batch = args.batch or (50 if args.api else 20)
    if args.api:
        from bench import rerank_api

        rerank_api.run(args)
        return
    if args.one:
        print(json.dumps(one_size(args.one, args)))
        return
    print(
        f"backend {args.backend}, {args.classes} classes, {args.labels} labels, batches of "
        f"{args.batch}, TF-IDF, margin + cluster diversity; best of {args.repeat} batches"
    )
    header = ["items", "fresh s", "median s", *SPLIT, "cv s", "first run s", "peak RSS MB"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for size in [int(s) for s in args.sizes.split(",") if s]:
        cmd = [sys.executable, __file__, "--one", str(size), *_forward(args)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=False, env=os.environ)
        if out.returncode != 0:
            print(f"| {size:,} | failed: {out.stderr.strip().splitlines()[-1:]} |")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        cells = [f"{r['items']:,}", r["fresh_s"], r["fresh_median_s"]]
        cells += [r[k] for k in SPLIT] + [r["cv_s"], r["first_run_s"], r["peak_rss_mb"]]
        print("| " + " | ".join(str(c) for c in cells) + " |", flush=True)


def _forward(args: argparse.Namespace) -> list[str]:
    out = ["--backend", args.backend, "--labels", str(args.labels), "--classes"]
    out += [str(args.classes), "--batch", str(args.batch), "--repeat", str(args.repeat)]
    return out + (["--workdir", str(Path(args.workdir).resolve())] if args.workdir else [])


if __name__ == "__main__":
    main()
