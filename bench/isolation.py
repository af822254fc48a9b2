"""R5 training isolation: R1 latency with and without a 100k-item project retraining meanwhile.

Per backend: a fresh database, `labelloop serve --no-worker`, a large project (``--items``,
``--seed-labels`` of them labelled) trained twice to compute its features, then ``--pairs``
pairs of R1 phases (``load.py``'s fetch-and-label loop on a fresh small project each phase),
interleaved A/B (AB, BA, AB, ...): *base* with the worker idle, *train* while it retrains the
large project back to back. Each pair runs once per ``--worker`` configuration, each with a
fresh `labelloop worker` process. Prints each phase and the p95/p99 ratios train/base per pair
and pooled; R5 asks for p95 within +20%.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from load import (
    LABELS,
    MAX_BATCH_SIZE,
    POSTGRES_URL,
    REPO_ROOT,
    UNTHROTTLED,
    admin_token,
    create_project,
    fresh_database,
    log,
    serve,
)

assert str(REPO_ROOT) in sys.path  # load.py made the app and the test helpers importable
from app.db import Database, open_database  # noqa: E402
from tests.loadgen import (  # noqa: E402
    ENDPOINTS,
    LoadResult,
    check_labels,
    create_tokens,
    jsonl,
    machine_busy,
    own_cpu,
    run_load,
    synthetic_rows,
    tree_cpu,
)
from tests.runwatch import (  # noqa: E402
    RetrainKeeper,
    no_run_active,
    run_status,
    training_overlap,
    wait_for,
)
from tests.server import running, server_env  # noqa: E402

R5_LIMIT = 1.20
TIMEOUT = 3600  # seconds to wait for a run (the first one embeds the whole pool)


@dataclass
class Phase:
    mode: str  # "base" or "train"
    result: LoadResult
    runs: int  # retrains of the large project that finished during the phase
    duty: float  # share of the phase's wall time a retrain was running
    cpu: str  # client / server / worker / machine
    problems: list[str]


@dataclass
class Setup:
    db: Database
    db_url: str
    data: Path
    url: str
    api: httpx.Client
    big: int
    tokens: list[str]
    server_pid: int


def run_phase(setup: Setup, worker_pid: int, mode: str, n: int, cycles: int) -> Phase:
    """One R1 run on a fresh project; in ``train`` mode only once a retrain is running."""
    db, big = setup.db, setup.big
    pool = len(setup.tokens) * cycles + len(setup.tokens)
    project = create_project(setup.api, f"load-{n}", jsonl(synthetic_rows(pool, seed=n)))
    wait_for(lambda: no_run_active(db), "no run is queued or running", TIMEOUT)
    with RetrainKeeper(db, big, retrain=mode == "train") as keeper:
        if mode == "train":
            wait_for(lambda: run_status(db, big) == "training", "a run is running", TIMEOUT)
        pids = (setup.server_pid, worker_pid)
        cpu0 = (own_cpu(), *map(tree_cpu, pids), machine_busy())
        t0 = time.time()
        result = run_load(setup.url, project, setup.tokens, cycles=cycles, labels=LABELS)
        t1 = time.time()
        cpu1 = (own_cpu(), *map(tree_cpu, pids), machine_busy())
        base_busy = keeper.busy_polls
    runs, busy = training_overlap(db, big, t0, t1)
    problems = [f"item {i} leased to clients {ks}" for i, ks in result.double_leases().items()]
    labels = check_labels(db, project, result.acked)
    problems += labels.wrong + result.errors
    if labels.unacknowledged:
        problems.append(f"{labels.unacknowledged} labels stored, never acknowledged")
    if mode == "base" and base_busy:
        problems.append(f"a run was seen during a base phase ({base_busy} polls)")
    used = [b - a for a, b in zip(cpu0, cpu1, strict=True)]
    used[-1] /= os.cpu_count() or 1
    cpu = " / ".join(f"{100 * u / (t1 - t0):.0f}%" for u in used)
    return Phase(mode, result, runs, busy / (t1 - t0), cpu, problems)


@contextmanager
def worker_process(setup: Setup, config: str, log_path: Path) -> Iterator[int]:
    """``labelloop worker`` with the settings of ``config`` (``name=value,...``), once it has
    started; yields its pid, and stops it once no run is left."""
    settings = dict(kv.split("=", 1) for kv in config.split(",") if "=" in kv)
    env = server_env(
        setup.db_url, setup.data, **{f"LABELLOOP_{k.upper()}": v for k, v in settings.items()}
    )
    with running("worker", env=env, log=log_path) as proc:
        wait_for(lambda: "started" in log_path.read_text(), "the worker started", TIMEOUT)
        yield proc.pid
        wait_for(lambda: no_run_active(setup.db), "the last run finished", TIMEOUT)


@contextmanager
def environment(backend: str, args: argparse.Namespace) -> Iterator[Setup]:
    """Database, server, users and the large project, trained twice (by a default worker)."""
    with (
        tempfile.TemporaryDirectory(prefix="labelloop-isolation-") as tmp,
        fresh_database(backend, Path(tmp), args.postgres_url) as db_url,
    ):
        data, db = Path(tmp) / "data", open_database(db_url)
        admin, tokens = admin_token(db), create_tokens(db, args.clients)
        headers = {"Authorization": f"Bearer {admin}"}
        try:
            with (
                serve(db_url, data, "--no-worker", **UNTHROTTLED) as server,
                httpx.Client(base_url=server.url, headers=headers, timeout=600) as api,
            ):
                setup = Setup(db, db_url, data, server.url, api, 0, tokens, server.pid)
                with worker_process(setup, "", Path(tmp) / "worker-setup.log"):
                    setup.big = _large_project(db, api, args)
                yield setup
        finally:
            db.dispose()


def _large_project(db: Database, api: httpx.Client, args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    rows = jsonl(synthetic_rows(args.items, n_labeled=args.seed_labels, seed=10_000))
    options = {"features": args.features} if args.features else {}
    big = create_project(api, "large", rows, batch_size=None, **options)  # it gets no labels
    log(f"imported {args.items} items in {time.perf_counter() - t0:.1f} s")
    for what in ("first run (computes the features)", "second run"):
        t0 = time.perf_counter()
        api.post(f"/api/v1/projects/{big}/train").raise_for_status()
        wait_for(lambda: no_run_active(db), "the run finished", TIMEOUT)
        log(f"{what}: {time.perf_counter() - t0:.1f} s")
    return big


def phase_row(label: str, pair: int, phase: Phase) -> str:
    q = phase.result.percentiles("queue")
    lab = phase.result.percentiles("label")
    return (
        f"| {label} | {pair} | {phase.mode} | {phase.result.requests} "
        f"| {phase.result.error_count} | {phase.result.throughput:.0f} "
        f"| {q[0]:.0f} / {q[1]:.0f} / {q[2]:.0f} | {lab[0]:.0f} / {lab[1]:.0f} / {lab[2]:.0f} "
        f"| {phase.runs} | {100 * phase.duty:.0f}% | {phase.cpu} |"
    )


def pooled(phases: Sequence[Phase], endpoint: str, q: float) -> float:
    return LoadResult.merged([p.result for p in phases]).percentiles(endpoint, (q,))[0]


def ratio_rows(label: str, pairs: Sequence[tuple[Phase, Phase]]) -> list[str]:
    """Per endpoint: p95 and p99 ratio train/base per pair, their median, and pooled."""
    rows = []
    bases = [b for b, _ in pairs]
    trains = [t for _, t in pairs]
    for endpoint in ENDPOINTS:
        for q in (95, 99):
            per_pair = [
                t.result.percentiles(endpoint, (q,))[0] / b.result.percentiles(endpoint, (q,))[0]
                for b, t in pairs
            ]
            base, train = pooled(bases, endpoint, q), pooled(trains, endpoint, q)
            verdict = "" if q != 95 else (" ok" if train / base <= R5_LIMIT else " OVER")
            rows.append(
                f"| {label} | {endpoint} | p{q} | {' '.join(f'{r:.2f}' for r in per_pair)} "
                f"| {statistics.median(per_pair):.2f} | {base:.0f} | {train:.0f} "
                f"| {train / base:.2f}{verdict} |"
            )
    return rows


def run_backend(backend: str, args: argparse.Namespace) -> tuple[list[str], list[str], bool]:
    """Every worker configuration in every pair, the configurations' order alternating too."""
    phase_rows, ok = [], True
    pairs: dict[str, list[tuple[Phase, Phase]]] = {c: [] for c in args.worker}
    n = 0
    with environment(backend, args) as setup:
        for pair in range(args.pairs):
            configs = args.worker if pair % 2 == 0 else args.worker[::-1]
            order = ("base", "train") if pair % 2 == 0 else ("train", "base")
            for config in configs:
                label = f"{backend} {config or 'default'}"
                done = {}
                with worker_process(setup, config, setup.data / f"worker-{n}.log") as pid:
                    for mode in order:
                        done[mode] = phase = run_phase(setup, pid, mode, n, args.cycles)
                        n += 1
                        log(phase_row(label, pair, phase))
                        for problem in phase.problems[:10]:
                            log(f"  {problem}")
                        ok &= not phase.problems
                        phase_rows.append(phase_row(label, pair, phase))
                pairs[config].append((done["base"], done["train"]))
    ratios = [
        row for c in args.worker for row in ratio_rows(f"{backend} {c or 'default'}", pairs[c])
    ]
    return phase_rows, ratios, ok


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--cycles", type=int, default=100, help="fetch-and-label cycles a phase")
    parser.add_argument("--pairs", type=int, default=3, help="base/train phase pairs")
    parser.add_argument("--items", type=int, default=100_000, help="items of the large project")
    parser.add_argument("--seed-labels", type=int, default=2_000)
    parser.add_argument(
        "--features", default="", help="features of the large project (default: the server's)"
    )
    parser.add_argument(
        "--worker",
        nargs="+",
        default=[""],
        metavar="CONFIG",
        help="worker process settings to compare, each 'name=value,...' ('' = defaults), "
        "e.g. --worker worker_nice=0,worker_threads=0 ''",
    )
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    args = parser.parse_args(argv)
    if args.clients * args.cycles >= MAX_BATCH_SIZE:
        parser.error(f"clients x cycles must stay below {MAX_BATCH_SIZE}, the largest batch_size")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up (drop the database)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    phases, ratios, ok = [], [], True
    for backend in backends:
        p, r, fine = run_backend(backend, args)
        phases, ratios, ok = phases + p, ratios + r, ok and fine
    print(
        "| backend, worker | pair | phase | requests | errors | submissions/s "
        "| queue p50 / p95 / p99 ms | label p50 / p95 / p99 ms | retrains | training "
        "| CPU client / server / worker / machine |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(phases))
    print()
    print(
        "| backend, worker | endpoint | pct | train/base per pair | median | base ms | train ms "
        "| pooled |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(ratios))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
