"""Issue 18: queue latency while the local model pre-labels banking77 items in the background.

Per backend: one `labelloop serve` (embedded worker on: it runs the pre-labelling thread) and one
`labelloop oracle serve-local` (`--llm-threads`, niced by `--llm-nice`), then ``--pairs`` pairs
of arms, interleaved (BA, AB, ...), each on a fresh project of the banking77 texts of the first
``--intents`` intents: A, the R1 load (``--clients`` annotators, `tests/loadgen.run_load`,
answering with the gold intent) alone; B, the same load while the project's oracle, the local
model, pre-labels with ``budget_calls = --budget``. B's load runs in rounds of
``--round-seconds`` until the budget's suggestions are stored; A runs as many rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from load import (
    POSTGRES_URL,
    REPO_ROOT,
    UNTHROTTLED,
    Usage,
    admin_token,
    create_project,
    fresh_database,
    log,
    measure_usage,
    serve,
)
from oracle import LOCAL_LABELS

from bench.datasets import BANKING77, load_banking77

assert str(REPO_ROOT) in sys.path  # load.py made the app and the test helpers importable
from sqlalchemy import func, select  # noqa: E402

from app.db import Database, open_database  # noqa: E402
from app.models import Item, Suggestion  # noqa: E402
from app.models.item import UNLABELED  # noqa: E402
from app.oracles.local import MODEL_ALIAS  # noqa: E402
from tests.loadgen import (  # noqa: E402
    LoadResult,
    check_labels,
    create_tokens,
    jsonl,
    process_cpu,
    run_load,
)
from tests.runwatch import wait_for  # noqa: E402
from tests.server import free_port, running, server_env  # noqa: E402

LIMIT = 1.20  # the acceptance: B's queue p99 within 20 % of A's
LLM_START_TIMEOUT = 300  # s: the first start assembles the 250 MB model file, then loads it
ENDLESS = 10**6  # cycles per round: a round ends by its time limit


class GoldLabels(Sequence[str]):
    """Item id -> its banking77 intent, in the shape `run_load` asks for
    (``labels[item % len(labels)]``): longer than any id, so the modulo keeps the id."""

    def __init__(self, by_item: dict[int, str]) -> None:
        self.by_item = by_item

    def __len__(self) -> int:
        return max(self.by_item) + 1

    def __getitem__(self, item: int) -> str:
        return self.by_item[item]


@dataclass(frozen=True)
class Pool:
    intents: list[str]
    rows: bytes  # JSONL {"id", "text", "label": null}
    gold: dict[str, str]  # row id -> intent


def banking_pool(n_intents: int, cache_dir: Path) -> Pool:
    """The train and test texts of the first ``n_intents`` intents of categories.json."""
    intents = json.loads((REPO_ROOT / BANKING77 / "categories.json").read_text())[:n_intents]
    data = load_banking77(cache_dir)
    pairs = list(zip(data.train_texts, data.train_y, strict=True))
    pairs += zip(data.test_texts, data.test_y, strict=True)
    chosen = [(text, data.labels[y]) for text, y in pairs if data.labels[y] in intents]
    gold = {f"b{i}": label for i, (_, label) in enumerate(chosen)}
    rows = ({"id": f"b{i}", "text": text, "label": None} for i, (text, _) in enumerate(chosen))
    return Pool(intents, jsonl(rows), gold)


@dataclass
class Setup:
    backend: str
    db: Database
    url: str
    api: httpx.Client
    tokens: list[str]
    server_pid: int
    llm_url: str
    llm_pid: int
    pool: Pool


@dataclass
class Arm:
    pair: int
    oracle: bool
    result: LoadResult
    usage: Usage
    llm_cpu: float  # CPU seconds of the model server during the arm
    rounds: int = 0
    stored: int = 0  # suggestion rows (answers and errors)
    answered: int = 0
    right: int = 0  # answers equal to the gold intent
    oracle_seconds: float | None = None  # median latency of an answered call
    problems: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return "B oracle" if self.oracle else "A plain"


def gold_labels(db: Database, project_id: int, gold: dict[str, str]) -> GoldLabels:
    with db.reader() as session:
        rows = session.execute(
            select(Item.id, Item.external_id).where(Item.project_id == project_id)
        ).all()
    return GoldLabels({item: gold[str(ext)] for item, ext in rows})


def unlabelled(db: Database, project_id: int) -> int:
    with db.reader() as session:
        stmt = select(func.count()).where(Item.project_id == project_id, UNLABELED)
        return int(session.scalar(stmt) or 0)


def count_suggestions(db: Database, project_id: int) -> int:
    with db.reader() as session:
        stmt = select(func.count()).where(Suggestion.project_id == project_id)
        return int(session.scalar(stmt) or 0)


def score_suggestions(db: Database, arm: Arm, project_id: int, gold: GoldLabels) -> None:
    """Fill the arm's suggestion figures from the stored rows."""
    with db.reader() as session:
        rows = session.execute(
            select(Suggestion.item_id, Suggestion.labels, Suggestion.latency_seconds).where(
                Suggestion.project_id == project_id
            )
        ).all()
    answered = [(item, labels, s) for item, labels, s in rows if labels]
    arm.stored, arm.answered = len(rows), len(answered)
    arm.right = sum(labels[0] == gold[item] for item, labels, _ in answered)
    seconds = [s for _, _, s in answered if s is not None]
    arm.oracle_seconds = statistics.median(seconds) if seconds else None


def add_oracle(setup: Setup, project_id: int, args: argparse.Namespace) -> str:
    """Point the project at the local model; returns the oracle's path."""
    config = {
        "base_url": setup.llm_url,
        "model": MODEL_ALIAS,
        "response_format": "json_object_schema",
        "timeout_seconds": 120,
    }
    body = {
        "name": "local gemma",
        "kind": "openai",
        "config": config,
        "concurrency": args.oracle_concurrency,
        "budget_calls": args.budget,
    }
    path = f"/api/v1/projects/{project_id}/oracles"
    added = setup.api.post(path, json=body)
    added.raise_for_status()
    return f"{path}/{added.json()['id']}"


def run_arm(setup: Setup, pair: int, oracle: bool, rounds: int, args: argparse.Namespace) -> Arm:
    """One arm on a fresh project: A for ``rounds`` rounds; B until the budget's suggestions
    are stored (or the pool would run dry, or ``--max-rounds``)."""
    db, pool = setup.db, setup.pool
    name = f"{setup.backend}-{pair}-{'oracle' if oracle else 'plain'}"
    project = create_project(setup.api, name, pool.rows, labels=pool.intents, features="tfidf")
    gold = gold_labels(db, project, pool.gold)
    oracle_path = add_oracle(setup, project, args) if oracle else None
    load = {"labels": gold, "think": args.think, "timeout": args.timeout}
    results = [run_load(setup.url, project, setup.tokens, cycles=args.warmup, **load)]
    timed: list[LoadResult] = []
    load |= {"cycles": ENDLESS, "max_seconds": args.round_seconds}
    llm0 = process_cpu(setup.llm_pid)
    with measure_usage(setup.server_pid) as usage:
        while _another_round(db, project, oracle, timed, rounds, args):
            timed.append(run_load(setup.url, project, setup.tokens, seed=len(timed), **load))
            log(f"  {name} round {len(timed)}: {count_suggestions(db, project)} suggestions")
    if oracle_path:  # switched off: it must not go on asking during the next arm
        setup.api.patch(oracle_path, json={"enabled": False}).raise_for_status()
    result = LoadResult.merged(timed)
    arm = Arm(pair, oracle, result, usage[0], process_cpu(setup.llm_pid) - llm0, len(timed))
    score_suggestions(db, arm, project, gold)
    both = LoadResult.merged([*results, result])
    labels = check_labels(db, project, both.acked)
    arm.problems += [f"item {i} leased to clients {ks}" for i, ks in both.double_leases().items()]
    arm.problems += labels.wrong + both.errors
    if labels.unacknowledged:
        arm.problems.append(f"{labels.unacknowledged} labels stored, never acknowledged")
    return arm


def _another_round(
    db: Database,
    project: int,
    oracle: bool,
    done: list[LoadResult],
    rounds: int,
    args: argparse.Namespace,
) -> bool:
    if not oracle:
        return len(done) < rounds
    if count_suggestions(db, project) >= args.budget or len(done) >= args.max_rounds:
        return False
    need = 1.5 * len(done[-1].acked) if done else 0  # the last round's labels, and a margin
    if unlabelled(db, project) < need:
        log("  the pool would run dry: B ends before the oracle's budget is spent")
        return False
    return True


@contextmanager
def local_model(db_url: str, tmp: Path, args: argparse.Namespace) -> Iterator[tuple[str, int]]:
    """``labelloop oracle serve-local`` on a free port, niced; yields (base URL, pid) once it
    lists its model. The model file is assembled once into ``--llm-dir``."""
    port = free_port()
    log_path = tmp / f"serve-local-{port}.log"
    env = server_env(db_url, args.llm_dir)
    cmd = ("oracle", "serve-local", "--port", str(port), "--threads", str(args.llm_threads))
    with running(*cmd, env=env, log=log_path) as proc:
        os.setpriority(os.PRIO_PROCESS, proc.pid, args.llm_nice)  # inherited by its threads
        url = f"http://127.0.0.1:{port}/v1"

        def answers() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"serve-local exited:\n{log_path.read_text()[-4000:]}")
            try:
                return httpx.get(f"{url}/models", timeout=5).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(answers, "the local model answers", LLM_START_TIMEOUT)
        yield url, proc.pid


@contextmanager
def environment(backend: str, pool: Pool, args: argparse.Namespace) -> Iterator[Setup]:
    """Database, annotators, the model server and `labelloop serve` with its worker."""
    with (
        tempfile.TemporaryDirectory(prefix="labelloop-oracle-load-") as tmp,
        fresh_database(backend, Path(tmp), args.postgres_url) as db_url,
    ):
        db = open_database(db_url)
        admin, tokens = admin_token(db), create_tokens(db, args.clients)
        headers = {"Authorization": f"Bearer {admin}"}
        hosts = {"LABELLOOP_ORACLE_HOSTS": "127.0.0.1"}
        try:
            with (
                local_model(db_url, Path(tmp), args) as (llm_url, llm_pid),
                serve(db_url, Path(tmp) / "data", **UNTHROTTLED, **hosts) as server,
                httpx.Client(base_url=server.url, headers=headers, timeout=600) as api,
            ):
                yield Setup(
                    backend, db, server.url, api, tokens, server.pid, llm_url, llm_pid, pool
                )
        finally:
            db.dispose()


def run_backend(backend: str, pool: Pool, args: argparse.Namespace) -> list[tuple[Arm, Arm]]:
    """``--pairs`` (A, B) pairs, B first in even pairs; A runs the last B's rounds."""
    pairs = []
    with environment(backend, pool, args) as setup:
        rounds = 0
        for pair in range(args.pairs):
            done: dict[bool, Arm] = {}
            for oracle in (True, False) if pair % 2 == 0 else (False, True):
                done[oracle] = arm = run_arm(setup, pair, oracle, rounds, args)
                rounds = arm.rounds if oracle else rounds
                log(arm_row(backend, arm))
                for problem in arm.problems[:10]:
                    log(f"  {problem}")
            pairs.append((done[False], done[True]))
    return pairs


def arm_row(backend: str, arm: Arm) -> str:
    res = arm.result
    q50, q95, q99 = res.percentiles("queue")
    label99 = res.percentiles("label", (99,))[0]
    wall = arm.usage.wall or 1.0
    if arm.oracle:
        accuracy = f"{arm.right / arm.answered:.2f}" if arm.answered else "-"
        median = f"{arm.oracle_seconds:.1f}" if arm.oracle_seconds is not None else "-"
        stored = f"{arm.stored} ({arm.answered} answered, {arm.stored - arm.answered} errors)"
        oracle = f"{stored} | {accuracy} | {median}"
    else:
        oracle = f"{arm.stored} | - | -"
    per_round = res.wall / max(arm.rounds, 1)
    return (
        f"| {backend} | {arm.pair} | {arm.name} | {arm.rounds} x {per_round:.0f} s "
        f"| {res.requests} | {res.error_count} | {res.throughput:.1f} "
        f"| {q50:.0f} / {q95:.0f} / {q99:.0f} | {label99:.0f} | {oracle} "
        f"| {arm.usage.shares()} / {100 * arm.llm_cpu / wall:.0f}% |"
    )


def ratio_row(backend: str, pairs: Sequence[tuple[Arm, Arm]]) -> str:
    """Queue p99 B/A per pair, and over the pooled requests of every pair."""
    per_pair = [
        b.result.percentiles("queue", (99,))[0] / a.result.percentiles("queue", (99,))[0]
        for a, b in pairs
    ]
    a_p99, b_p99 = (
        LoadResult.merged([p[k].result for p in pairs]).percentiles("queue", (99,))[0]
        for k in (0, 1)
    )
    verdict = "within" if b_p99 / a_p99 <= LIMIT else "OVER"
    landed = " ".join(f"{b.stored}/{b.answered}" for _, b in pairs)
    return (
        f"| {backend} | {' '.join(f'{r:.2f}' for r in per_pair)} | {a_p99:.0f} | {b_p99:.0f} "
        f"| {b_p99 / a_p99:.2f} ({verdict} {LIMIT:.2f}) | {landed} |"
    )


def print_tables(results: dict[str, list[tuple[Arm, Arm]]], args: argparse.Namespace) -> None:
    print(
        f"{args.clients} annotators (think {args.think:g} s mean), banking77, {args.intents} "
        f"intents; model server: {args.llm_threads} thread(s), nice {args.llm_nice} (the "
        f"model stands in for a remote endpoint: it should not take the web server's CPU); "
        f"oracle concurrency {args.oracle_concurrency}, budget {args.budget} calls\n"
    )
    print(
        "| backend | pair | arm | rounds | requests | errors | labels/s "
        "| queue p50 / p95 / p99 ms | label p99 ms | suggestions stored | oracle accuracy "
        "| oracle s/call (median) | CPU client / server / machine / model |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for backend, pairs in results.items():
        for a, b in pairs:
            for arm in (b, a) if b.pair % 2 == 0 else (a, b):
                print(arm_row(backend, arm))
    print()
    print("| backend | p99 B/A per pair | A p99 ms | B p99 ms | pooled B/A | stored/answered |")
    print("|---|---|---|---|---|---|")
    for backend, pairs in results.items():
        print(ratio_row(backend, pairs))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--think", type=float, default=10.0, help="mean s an annotator reads")
    parser.add_argument("--warmup", type=int, default=1, help="untimed cycles per client first")
    parser.add_argument("--round-seconds", type=float, default=60.0)
    parser.add_argument("--max-rounds", type=int, default=30, help="B ends after these")
    parser.add_argument("--pairs", type=int, default=1, help="A/B pairs, order alternating")
    parser.add_argument("--intents", type=int, default=LOCAL_LABELS, help="as bench/oracle.py")
    parser.add_argument("--budget", type=int, default=200, help="the oracle's budget_calls")
    parser.add_argument("--oracle-concurrency", type=int, default=1)
    parser.add_argument("--llm-threads", type=int, default=1, help="llama.cpp threads")
    parser.add_argument("--llm-nice", type=int, default=10, help="the model server's niceness")
    parser.add_argument("--timeout", type=float, default=60, help="seconds per request")
    parser.add_argument("--llm-dir", type=Path, default=REPO_ROOT / "var" / "bench-cache" / "llm")
    parser.add_argument("--cache-dir", type=Path, default=REPO_ROOT / "var" / "bench-cache")
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up (drop the database)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    pool = banking_pool(args.intents, args.cache_dir)
    log(f"pool: {len(pool.gold)} banking77 texts of {len(pool.intents)} intents")
    results = {backend: run_backend(backend, pool, args) for backend in backends}
    print_tables(results, args)
    arms = [arm for pairs in results.values() for pair in pairs for arm in pair]
    landed = all(b.stored >= args.budget for pairs in results.values() for _, b in pairs)
    return 0 if landed and not any(arm.problems for arm in arms) else 1


if __name__ == "__main__":
    sys.exit(main())
