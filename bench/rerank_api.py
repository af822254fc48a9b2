"""Freshness as a client sees it: `bench/rerank.py --api`, through a real `labelloop serve`.

Per warm-up mode (`on`: the project's defaults, the TypiClust warm-up; `off`: `warm_up` 0),
a fresh SQLite database and data directory, a project of the synthetic texts of `rerank.py`
(bulk-inserted, `--labels` of them labelled as an import would) with `--features`: `tfidf`,
or `default` for the project default (MiniLM: a big pool starts on static vectors while
MiniLM embeds in the background, then switches; `--pre-embed` embeds every item with MiniLM
before the server starts, so the project trains on MiniLM from the first run, as it does once
the background embedding has switched it),
and a `labelloop serve` with its embedded worker on default settings (only the per-user rate
limits are lifted, for the polling). The first model is timed from the server's start. Then,
`--repeat` times, the annotator fetches a batch (`GET /queue?limit=batch`), labels it one item
at a time (`POST /annotations`, the item's true topic) and polls `GET /queue?limit=1` every
`--poll` seconds until it serves a new model version: "fresh" is the time from the last
label's response to that answer. The server's own split comes from the run's record: the wait
from the last label to the run's claim, the run's steps up to the publish, and what runs
after it (cross-validation, label issues, audit). "labels trained on" is the run's count: the
audit sample's share of the labels is measured on, not trained on.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import select

from app.config import Settings
from app.db import Database, open_database
from app.migrate import upgrade
from app.models import Item, ModelVersion, TrainingRun
from app.projects.schemas import ProjectCreate
from app.training import service as training
from app.training import snapshot
from app.training.backfill import CHUNK_TEXTS
from app.training.embeddingstore import EmbeddingStore
from bench.rerank import add_items, create_with_annotator, seed_labels
from tests.server import free_port, running, wait_until_up

# The client polls the queue: the per-user rate limits would answer 429 (not what is measured).
UNTHROTTLED = {f"LABELLOOP_RATE_LIMIT_{k}": "1000000/minute" for k in ("QUEUE", "LABEL")}
BEFORE_PUBLISH = (
    "snapshot",
    "features",
    "fit",
    "warm_up_basis",
    "score",
    "stop_set",
    "save",
    "publish",
)
AFTER_PUBLISH = ("cv", "label_issues", "audit")
HEADER = [
    "warm-up",
    "batch",
    "labels trained on",
    "warm-up batch",
    "features",
    "fresh s",
    "label -> claim s",
    "run to publish s",
    "of which score s",
    "publish -> seen s",
    "after publish s",
]


@dataclass
class Batch:
    fresh: float  # last label's response -> /queue serves the new version
    version: int
    labelled_at: float  # wall clock (time.time()) of the last label's response


def run(args: argparse.Namespace) -> None:
    """Print one table row per measured batch, per warm-up mode."""
    print(
        f"labelloop serve (embedded worker, default settings), SQLite, {args.items:,} items, "
        f"features {args.features}, {args.classes} classes, {args.labels} seed labels, "
        f"batches of {args.batch}; "
        f"client polls GET /queue every {args.poll * 1000:.0f} ms"
    )
    print("| " + " | ".join(HEADER) + " |")
    print("|" + "---|" * len(HEADER))
    for mode in args.warm_up.split(","):
        with tempfile.TemporaryDirectory(prefix="rerank-api-", dir=args.workdir) as tmp:
            first, rows = one_mode(mode, Path(tmp), args)
        print(f"| {mode} | first model | {args.labels} | | | {first:.2f} | | | | | |", flush=True)
        for row in rows:
            print("| " + " | ".join(str(c) for c in [mode, *row]) + " |", flush=True)


def one_mode(mode: str, tmp: Path, args: argparse.Namespace) -> tuple[float, list[list[Any]]]:
    """(seconds from the server's start to the first model, one row per batch)."""
    settings = Settings(database_url=f"sqlite:///{tmp / 'bench.db'}", data_dir=tmp / "data")
    upgrade(settings.sqlalchemy_url)
    db = open_database(settings.sqlalchemy_url)
    labels = [f"topic{c}" for c in range(args.classes)]
    options: dict[str, Any] = {"warm_up": 0.0} if mode == "off" else {}
    if args.features != "default":
        options["features"] = args.features
    spec = ProjectCreate(name="fresh", labels=labels, batch_size=args.batch, **options)
    pid, token = create_with_annotator(db, spec)
    gold = add_items(db, pid, args.items, args.classes)
    seed_labels(db, pid, gold, args.labels)
    if args.pre_embed:
        pre_embed(db, settings.project_dir(pid) / "embeddings", pid)
    with db.writer() as session, session.begin():
        training.queue_run(session, pid, reason="manual")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABELLOOP_")}
    env |= {"LABELLOOP_DATABASE_URL": settings.database_url, **UNTHROTTLED}
    env["LABELLOOP_DATA_DIR"] = str(settings.data_dir)
    port, log = free_port(), tmp / "serve.log"
    try:
        with running("serve", "--port", str(port), "--log-level", "warning", env=env, log=log) as p:
            url = f"http://127.0.0.1:{port}"
            started = time.perf_counter()
            wait_until_up(url, p, log, timeout=120)
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=f"{url}/api/v1/projects/{pid}", headers=headers) as api:
                _, version = _wait_for_new(api, None, args.poll, timeout=600)
                first = time.perf_counter() - started
                batches = [_one_batch(api, gold, Batch(0.0, version, 0.0), args)]
                for _ in range(args.repeat - 1):
                    batches.append(_one_batch(api, gold, batches[-1], args))
            _wait_idle(db, pid)
        return first, [_row(db, pid, k + 1, b) for k, b in enumerate(batches)]
    finally:
        db.dispose()


def pre_embed(db: Database, directory: Path, pid: int) -> None:
    """Store every item's MiniLM vector in chunks of the background embedding's size."""
    with db.reader() as session:
        ids = np.array(
            session.scalars(select(Item.id).where(Item.project_id == pid).order_by(Item.id)).all(),
            dtype=np.int64,
        )
    texts = partial(snapshot.texts_of, db)
    EmbeddingStore(directory).load(ids, texts, chunk_items=CHUNK_TEXTS, dtype=np.float16)


def _one_batch(api: httpx.Client, gold: np.ndarray, last: Batch, args: argparse.Namespace) -> Batch:
    """Fetch and label one batch, then poll until a model newer than ``last``'s is served."""
    served = api.get("/queue", params={"limit": args.batch})
    served.raise_for_status()
    for item in served.json()["items"]:
        label = f"topic{int(gold[int(item['external_id'])])}"
        api.post("/annotations", json={"item_id": item["id"], "label": label}).raise_for_status()
    done, labelled_at = time.perf_counter(), time.time()
    seen, new = _wait_for_new(api, last.version, args.poll, timeout=300)
    return Batch(seen - done, new, labelled_at)


def _wait_for_new(
    api: httpx.Client, version: int | None, poll: float, timeout: float
) -> tuple[float, int]:
    """(perf_counter when /queue first served a model version other than ``version``, it)."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        answer = api.get("/queue", params={"limit": 1})
        now = time.perf_counter()
        answer.raise_for_status()
        served = answer.json()["model_version"]
        if served is not None and served != version:
            return now, int(served)
        time.sleep(poll)  # the client's poll interval (--poll)
    raise TimeoutError(f"no model version after {version} within {timeout} s")


def _wait_idle(db: Database, pid: int, timeout: float = 300) -> None:
    """Until the project's runs are done: the last run's timings are written when it ends."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.reader() as session:
            if training.status(session, pid) == "idle":
                return
        time.sleep(0.1)  # polling the run's row
    raise TimeoutError("the last run did not finish")


def _row(db: Database, pid: int, number: int, batch: Batch) -> list[Any]:
    """One table row: the client's figure and the split from the run that published it."""
    with db.reader() as session:
        run = session.scalars(
            select(TrainingRun)
            .join(ModelVersion, ModelVersion.id == TrainingRun.model_version_id)
            .where(ModelVersion.project_id == pid, ModelVersion.version == batch.version)
        ).one()
        details = session.get_one(ModelVersion, run.model_version_id).details or {}
    warm = bool(details.get("warm_up"))
    t = run.timings
    to_publish = sum(float(t.get(k, 0.0)) for k in BEFORE_PUBLISH)
    claim = run.started_at.timestamp() - batch.labelled_at if run.started_at else float("nan")
    seen = batch.fresh - claim - to_publish
    return [
        number,
        run.n_labels,
        "yes" if warm else "no",
        details.get("features", ""),
        f"{batch.fresh:.3f}",
        f"{claim:.3f}",
        f"{to_publish:.3f}",
        f"{float(t.get('score', 0.0)):.3f}",
        f"{seen:.3f}",
        f"{sum(float(t.get(k, 0.0)) for k in AFTER_PUBLISH):.3f}",
    ]
