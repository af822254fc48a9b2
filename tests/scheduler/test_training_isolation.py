"""R5 at test size: annotators stay served while a worker process retrains a large project.

A short R1 load (tests/loadgen.py) in four interleaved slices, base / train / base / train:
*base* with the worker idle, *train* while a separate ``labelloop worker`` retrains a 20k-item
project back to back (the first retrain also builds its features). Interleaving lets load
from other processes fall on both sides. The bound is loose so that it holds on a shared,
noisy 2-core machine: the pooled p95 of the train slices at most P95_FACTOR times that of the
base slices, plus P95_SLACK_MS. The R5 figure itself (+20 % at 100k items, repeated A/B pairs)
comes from ``bench/isolation.py``.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest

from app.config import Settings
from app.db import Database
from app.scheduler.worker import start_thread
from tests.factories import create_project
from tests.loadgen import ENDPOINTS, LoadResult, check_labels, create_tokens, run_load
from tests.runwatch import RetrainKeeper, run_status, training_overlap, wait_for
from tests.server import running, serve, server_env

N_ITEMS, N_SEED_LABELS = 20_000, 300
CLIENTS, SLICE_CYCLES, WARMUP = 8, 12, 2
ORDER = ("base", "train", "base", "train")
# The slack covers a neighbouring test's burst under `pytest -n 2` landing in one train slice
# (seen: queue p95 191 ms against 35 ms base, while alone the same code gives 28-51 against
# 21-31); a retrain that stalls the web process costs seconds, far above it.
P95_FACTOR, P95_SLACK_MS = 2.0, 250.0
MIN_TRAINING_SHARE = 0.5  # of the train slices' wall time, or the test measured nothing
NO_RETRAIN = 10_000  # the largest batch_size: the load's own labels never queue a run
TIMEOUT = 120


@pytest.mark.process
def test_labelling_stays_fast_while_a_large_project_retrains(
    db_url: str, db: Database, tmp_path: Path
) -> None:
    large = create_project(
        db, name="large", n_items=N_ITEMS, n_labeled=N_SEED_LABELS, batch_size=NO_RETRAIN
    )
    cycles = WARMUP + SLICE_CYCLES * len(ORDER)
    load = create_project(db, name="load", n_items=CLIENTS * (cycles + 1), batch_size=NO_RETRAIN)
    tokens = create_tokens(db, CLIENTS)
    data, worker_log = tmp_path / "data", tmp_path / "worker.log"
    slices: dict[str, list[LoadResult]] = {"base": [], "train": []}
    training_seconds = 0.0
    with (
        serve(db_url, data, "--no-worker") as url,
        running("worker", env=server_env(db_url, data), log=worker_log) as worker,
    ):
        wait_for(lambda: "started" in worker_log.read_text(), "the worker started", TIMEOUT)
        warm = run_load(url, load.id, tokens, cycles=WARMUP, labels=load.labels)
        for mode in ORDER:
            if mode == "base":
                wait_for(lambda: run_status(db, large.id) == "idle", "the worker is idle", TIMEOUT)
                slices[mode].append(
                    run_load(url, load.id, tokens, cycles=SLICE_CYCLES, labels=load.labels)
                )
                continue
            with RetrainKeeper(db, large.id, retrain=True):
                wait_for(
                    lambda: run_status(db, large.id) == "training", "a run is running", TIMEOUT
                )
                t0 = time.time()
                slices[mode].append(
                    run_load(url, load.id, tokens, cycles=SLICE_CYCLES, labels=load.labels)
                )
                training_seconds += training_overlap(db, large.id, t0, time.time())[1]
        worker_nice = os.getpriority(os.PRIO_PROCESS, worker.pid)
        worker.kill()  # do not wait for the retrain in progress

    base, trained = LoadResult.merged(slices["base"]), LoadResult.merged(slices["train"])
    every = LoadResult.merged([warm, *slices["base"], *slices["train"]])
    assert every.errors == [], f"{every.error_count} failed requests"
    assert every.double_leases() == {}
    assert len(every.acked) == CLIENTS * cycles
    assert check_labels(db, load.id, every.acked).ok
    assert training_seconds >= MIN_TRAINING_SHARE * trained.wall, "the load missed the retrains"
    default_nice = Settings.model_fields["worker_nice"].default
    assert worker_nice == min(19, os.getpriority(os.PRIO_PROCESS, 0) + default_nice)
    for endpoint in ENDPOINTS:
        p95_base, p95_trained = (r.percentiles(endpoint, (95,))[0] for r in (base, trained))
        print(f"{endpoint}: p95 {p95_base:.0f} ms without training, {p95_trained:.0f} ms with")
        assert p95_trained <= P95_FACTOR * p95_base + P95_SLACK_MS, endpoint


@pytest.mark.skipif(sys.platform != "linux", reason="a per-thread niceness is Linux only")
def test_embedded_worker_thread_runs_at_a_lower_priority(db: Database, settings: Settings) -> None:
    thread, stop = start_thread(db, settings.model_copy(update={"worker_nice": 7}))
    try:
        assert thread.native_id is not None
        own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        wait_for(lambda: _thread_nice(thread.native_id) == min(19, own + 7), "reniced", TIMEOUT)
        assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == own
    finally:
        stop.set()
        thread.join()


def _thread_nice(native_id: int) -> int:
    """The niceness of one thread of this process (field 19 of its /proc stat line)."""
    with open(f"/proc/self/task/{native_id}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[16])
