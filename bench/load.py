"""R1 load: N simulated annotators fetch-and-label over HTTP against a real `labelloop serve`.

Per backend: a fresh database (a SQLite file, or a PostgreSQL database created and dropped),
a server started here (``--web-workers`` processes, no trainer), one project, then
``--clients`` threads doing ``--cycles`` x (GET queue?limit=1, POST annotation). Prints counts,
throughput, latency percentiles per endpoint, CPU use, and the checks: no item leased twice,
every 2xx label stored exactly once.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO_ROOT))


from app.db import Database, open_database  # noqa: E402
from app.users.service import create_user  # noqa: E402
from bench.pages import POSTGRES_URL, fresh_database, log  # noqa: E402
from tests.loadgen import (  # noqa: E402
    ENDPOINTS,
    TOPIC_WORDS,
    LabelCheck,
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
from tests.server import free_port, running, server_env, wait_until_up  # noqa: E402

LABELS = list(TOPIC_WORDS)
MAX_BATCH_SIZE = 10_000  # the API's limit: the load project never triggers a retrain below it


@dataclass(frozen=True)
class Server:
    url: str
    pid: int


@contextmanager
def serve(db_url: str, data_dir: Path, *args: str, **env_extra: str) -> Iterator[Server]:
    """``labelloop serve <args>`` on a free port until exit; its log goes to ``data_dir``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = data_dir / f"serve-{port}.log"
    env = server_env(db_url, data_dir, **env_extra)
    cmd = ("serve", "--port", str(port), "--log-level", "warning", *args)
    with running(*cmd, env=env, log=log_path) as proc:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url, proc, log_path)
        yield Server(url, proc.pid)


# Load benches measure throughput, not the per-user rate limits: lift those.
UNTHROTTLED = {
    f"LABELLOOP_RATE_LIMIT_{kind}": "1000000/minute"
    for kind in ("QUEUE", "LABEL", "PREDICT", "IMPORT", "EXPORT", "TRAIN")
}


def admin_token(db: Database) -> str:
    with db.writer() as session, session.begin():
        return create_user(session, name=f"admin-{uuid.uuid4().hex[:6]}", role="admin")[1]


def create_project(
    api: httpx.Client,
    name: str,
    rows: bytes,
    *,
    batch_size: int | None = MAX_BATCH_SIZE,
    **options: str,
) -> int:
    """Create a project with the synthetic label set, make every user who is not an admin
    (the simulated annotators) an annotator member, and import ``rows`` (JSONL) into it.

    ``batch_size`` None keeps the server's default; ``options`` go into the body as they are
    (e.g. ``features``).
    """
    body: dict[str, object] = {"name": name, "labels": LABELS, **options}
    if batch_size is not None:
        body["batch_size"] = batch_size
    created = api.post("/api/v1/projects", json=body)
    created.raise_for_status()
    project_id = int(created.json()["id"])
    for user in api.get("/api/v1/users").json():  # the bench's annotators work on it
        if user["role"] != "admin":
            member = {"user_id": user["id"], "role": "annotator"}
            api.post(f"/api/v1/projects/{project_id}/members", json=member).raise_for_status()
    files = {"file": ("rows.jsonl", rows, "application/jsonl")}
    api.post(
        f"/api/v1/projects/{project_id}/imports", files=files, data={"label_field": "label"}
    ).raise_for_status()
    return project_id


@dataclass
class Usage:
    """CPU seconds over a stretch of wall time: this process, the server, the whole machine."""

    wall: float
    client: float
    server: float
    machine: float

    def shares(self) -> str:
        """'client / server / machine' as % of one core (machine: of all cores)."""
        cores = os.cpu_count() or 1
        return (
            f"{100 * self.client / self.wall:.0f}% / {100 * self.server / self.wall:.0f}% / "
            f"{100 * self.machine / (self.wall * cores):.0f}%"
        )


@contextmanager
def measure_usage(server_pid: int) -> Iterator[list[Usage]]:
    """Yields a list that holds the :class:`Usage` of the ``with`` body after it ends."""
    out: list[Usage] = []
    start = (time.perf_counter(), own_cpu(), tree_cpu(server_pid), machine_busy())
    yield out
    end = (time.perf_counter(), own_cpu(), tree_cpu(server_pid), machine_busy())
    out.append(Usage(*(b - a for a, b in zip(start, end, strict=True))))


@dataclass
class Report:
    backend: str
    web_workers: int
    think: float
    batch: int  # labels per request
    result: LoadResult  # the timed run
    usage: Usage
    warm_errors: int
    double_leases: int  # items served to two clients (warm-up and timed run)
    labels: LabelCheck  # warm-up and timed run

    @property
    def name(self) -> str:
        """The backend, and the web processes when more than one."""
        return self.backend + (f" x{self.web_workers}" if self.web_workers > 1 else "")

    @property
    def ok(self) -> bool:
        failed = self.result.error_count or self.warm_errors or self.double_leases
        return not failed and self.labels.ok


def run_backend(backend: str, args: argparse.Namespace) -> Report:
    """One full R1 run on a fresh database of ``backend`` and a fresh server process."""
    with (
        tempfile.TemporaryDirectory(prefix="labelloop-load-") as tmp,
        fresh_database(backend, Path(tmp), args.postgres_url) as db_url,
    ):
        db = open_database(db_url)
        try:
            return _run(backend, db, db_url, Path(tmp) / "data", args)
        finally:
            db.dispose()


def _run(backend: str, db: Database, db_url: str, data: Path, args: argparse.Namespace) -> Report:
    admin = admin_token(db)
    tokens = create_tokens(db, args.clients)
    pool = args.pool or args.batch * (args.clients * (args.cycles + args.warmup) + args.clients)
    with (
        serve(
            db_url, data, "--no-worker", "--workers", str(args.web_workers), **UNTHROTTLED
        ) as server,
        httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {admin}"}) as api,
    ):
        project = create_project(api, "load", jsonl(synthetic_rows(pool)))
        log(
            f"{backend}: {pool} items; {args.clients} clients x {args.cycles} cycles; "
            f"{args.web_workers} web process(es)"
        )
        warm = run_load(
            server.url, project, tokens, cycles=args.warmup, labels=LABELS, batch=args.batch
        )
        with measure_usage(server.pid) as usage:
            result = run_load(
                server.url,
                project,
                tokens,
                cycles=args.cycles,
                labels=LABELS,
                timeout=args.timeout,
                max_seconds=args.max_seconds or None,
                think=args.think,
                batch=args.batch,
            )
    both = LoadResult.merged([warm, result])
    labels = check_labels(db, project, both.acked)
    return Report(
        backend,
        args.web_workers,
        args.think,
        args.batch,
        result,
        usage[0],
        warm.error_count,
        len(both.double_leases()),
        labels,
    )


def print_tables(reports: Sequence[Report]) -> None:
    print(
        "| backend | clients x cycles | think s | labels / request | requests | errors "
        "| submissions | wall s | submissions/s | double leases | labels once in DB "
        "| CPU client / server / machine |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in reports:
        res = r.result
        once = "yes" if not r.labels.wrong else f"NO ({len(r.labels.wrong)} items)"
        if r.labels.unacknowledged:
            once += f" (+{r.labels.unacknowledged} stored, never acknowledged)"
        cut = f" ({res.cut_short} cycles cut)" if res.cut_short else ""
        print(
            f"| {r.name} | {res.clients} x {res.cycles}{cut} | {r.think:g} | {r.batch} "
            f"| {res.requests} "
            f"| {res.error_count} | {len(res.acked)} | {res.wall:.1f} | {res.throughput:.1f} "
            f"| {r.double_leases} | {once} | {r.usage.shares()} |"
        )
    print()
    print("| backend | endpoint | n | p50 ms | p95 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|---|---|")
    for r in reports:
        for endpoint in ENDPOINTS:
            p50, p95, p99, top = r.result.percentiles(endpoint, (50, 95, 99, 100))
            n = len(r.result.latency[endpoint])
            print(
                f"| {r.name} | {endpoint} | {n} | {p50:.1f} | {p95:.1f} | {p99:.1f} | {top:.0f} |"
            )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--cycles", type=int, default=200, help="fetch-and-label cycles each")
    parser.add_argument(
        "--web-workers", type=int, default=1, help="web processes (`labelloop serve --workers`)"
    )
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="mean seconds a simulated annotator reads an item before the next fetch "
        "(exponential; 0: clients are bots that never pause)",
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=1,
        help="labels per request: a cycle fetches this many items and posts their labels "
        "in one request (annotations/bulk) when above 1",
    )
    parser.add_argument("--warmup", type=int, default=2, help="untimed cycles per client first")
    parser.add_argument(
        "--pool", type=int, default=0, help="items (default: clients x (cycles + warmup + 1))"
    )
    parser.add_argument("--timeout", type=float, default=60, help="seconds per request")
    parser.add_argument(
        "--max-seconds", type=float, default=0, help="start no cycle after this (0: no limit)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per backend, interleaved")
    parser.add_argument(
        "--postgres-url", default=POSTGRES_URL, help="a server to create the database on"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up (drop the database)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    reports = []
    for _ in range(args.repeat):
        for backend in backends:
            reports.append(run_backend(backend, args))
            res = reports[-1].result
            log(
                f"{backend}: {res.requests} requests, {res.error_count} errors, "
                f"{res.throughput:.0f} submissions/s, p95 queue/label "
                f"{res.percentiles('queue')[1]:.0f}/{res.percentiles('label')[1]:.0f} ms"
            )
            if reports[-1].warm_errors:
                log(f"  {reports[-1].warm_errors} errors in the warm-up")
            for problem in (res.errors + reports[-1].labels.wrong)[:10]:
                log(f"  {problem}")
    print_tables(reports)
    return 0 if all(r.ok for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
