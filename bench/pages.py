"""Page render times at 10k / 100k / 1M items through a real `labelloop serve` process.

Per backend and size: a fresh migrated database (a SQLite file, or a PostgreSQL database
created and dropped here), one project filled by a bulk insert through the DB-API (the
count triggers fire as for any import), ``--labeled`` of it seed-labelled; then a server
process and ``--requests`` sequential requests per page over one keep-alive connection.
Prints the median and p95 per page, and what the old counting queries cost on the same
data (in-process), for comparison.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO_ROOT))

from sqlalchemy import create_engine, distinct, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from app.db import Database, open_database  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.models import Annotation, Item, Project  # noqa: E402
from app.projects.schemas import ProjectCreate  # noqa: E402
from app.projects.service import create_project  # noqa: E402
from app.users.service import create_user  # noqa: E402
from tests.server import free_port, running, server_env, wait_until_up  # noqa: E402

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
LABELS = [f"intent_{i:02d}" for i in range(20)]
WORDS = [
    "card",
    "transfer",
    "refund",
    "balance",
    "account",
    "payment",
    "limit",
    "fee",
    "cash",
    "rate",
    "pin",
]
CHUNK = 50_000
PASSWORD = "bench-password"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def fresh_database(backend: str, directory: Path, postgres_url: str) -> Iterator[str]:
    """A migrated, empty database: a SQLite file, or a PostgreSQL database dropped after."""
    if backend == "sqlite":
        url = f"sqlite:///{directory / f'pages-{uuid.uuid4().hex[:8]}.db'}"
        upgrade(url)
        yield url
        return
    name = f"ll_pages_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --- data ----------------------------------------------------------------------------------


def _item_row(project_id: int, i: int, now: object) -> tuple[object, ...]:
    words = " ".join(WORDS[(i * k) % len(WORDS)] for k in (1, 3, 7, 11))
    body = f"customer message {i}: question about my {words}, please help"
    digest = hashlib.sha256(body.encode()).digest()[:16]
    key = int.from_bytes(digest[:4], "big") >> 1  # 31 bits, as app.items.identity
    return (project_id, f"m{i}", body, digest, key, now)


def _copy_or_insert(db: Database, table: str, columns: Sequence[str], rows: list[tuple]) -> None:
    """Bulk-load ``rows``: COPY on PostgreSQL, executemany on SQLite; triggers fire."""
    with db.engine.begin() as conn:
        raw = conn.connection.driver_connection
        if db.is_sqlite:
            marks = ", ".join("?" for _ in columns)
            raw.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
            return
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)


def populate(db: Database, n_items: int, labeled: float) -> int:
    """One project of ``n_items`` items, a ``labeled`` share of them seed-labelled."""
    with db.writer() as session, session.begin():
        project = create_project(session, ProjectCreate(name=f"pages-{n_items}", labels=LABELS))
        project_id = project.id
    now = "2026-12-01 12:00:00"
    # As the column stores it: milliseconds since 1970 on SQLite (CompactUTCDateTime).
    created = Item.created_at.type.process_bind_param(
        datetime(2026, 12, 1, 12, tzinfo=UTC), db.engine.dialect
    )
    item_columns = ("project_id", "external_id", "text", "text_hash", "random_key", "created_at")
    for start in range(0, n_items, CHUNK):
        stop = min(n_items, start + CHUNK)
        rows = [_item_row(project_id, i, created) for i in range(start, stop)]
        _copy_or_insert(db, "items", item_columns, rows)
    step = max(1, round(1 / labeled)) if labeled > 0 else 0
    with db.reader() as session:
        ids = session.scalars(
            select(Item.id).where(Item.project_id == project_id).order_by(Item.id)
        ).all()
    seeds = [
        (project_id, item_id, json.dumps([LABELS[k % len(LABELS)]]), "import", now, now)
        for k, item_id in enumerate(ids[::step] if step else [])
    ]
    columns = ("project_id", "item_id", "labels", "source", "created_at", "updated_at")
    for start in range(0, len(seeds), CHUNK):
        _copy_or_insert(db, "annotations", columns, seeds[start : start + CHUNK])
    return project_id


# --- the old counting queries, for comparison ------------------------------------------------


def counting_ms(db: Database, project_id: int) -> tuple[float, float]:
    """Milliseconds of the pre-counter queries: (item + labelled counts, label distribution)."""
    with db.reader() as session:
        start = time.perf_counter()
        session.scalar(select(func.count()).where(Item.project_id == project_id))
        session.scalar(
            select(func.count(distinct(Annotation.item_id))).where(
                Annotation.project_id == project_id
            )
        )
        counted = time.perf_counter()
        tally: dict[str, int] = {}
        for (labels,) in session.execute(
            select(Annotation.labels).where(Annotation.project_id == project_id)
        ):
            for label in labels:
                tally[label] = tally.get(label, 0) + 1
        done = time.perf_counter()
    return (counted - start) * 1000, (done - counted) * 1000


# --- the pages -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    page: str
    median_ms: float
    p95_ms: float
    bytes: int


def _sign_in(web: httpx.Client, name: str) -> None:
    page = web.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf, "the sign-in page carries a CSRF token"
    form = {"username": name, "password": PASSWORD, "csrf_token": csrf.group(1)}
    response = web.post("/login", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text[:300]


def _time(client: httpx.Client, page: str, path: str, n: int) -> Timing:
    client.get(path).raise_for_status()  # warm the server's caches and the connection
    samples = []
    size = 0
    for _ in range(n):
        start = time.perf_counter()
        response = client.get(path)
        samples.append((time.perf_counter() - start) * 1000)
        response.raise_for_status()
        size = len(response.content)
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return Timing(page, statistics.median(samples), p95, size)


def deep_cursor(db: Database, project_id: int, share: float = 0.9) -> int:
    """The ``after`` of a page ``share`` of the way through the pool."""
    with db.reader() as session:
        n = session.scalar(select(Project.n_items).where(Project.id == project_id)) or 0
        return (
            session.scalar(
                select(Item.id)
                .where(Item.project_id == project_id)
                .order_by(Item.id)
                .offset(int(n * share))
                .limit(1)
            )
            or 0
        )


def measure_pages(url: str, token: str, project_id: int, after: int, n: int) -> list[Timing]:
    p = f"/projects/{project_id}"
    api = f"/api/v1{p}"
    pages: list[tuple[str, str, bool]] = [
        ("dashboard", p, False),
        ("dashboard live fragment (polled every 2 s)", f"{p}/live", False),
        ("items page, first", f"{p}/items", False),
        ("items page, deep (90 %)", f"{p}/items?after={after}", False),
        ("items page, unlabelled, deep", f"{p}/items?after={after}&status=unlabeled", False),
        ("items page, labelled, deep", f"{p}/items?after={after}&status=labeled", False),
        ("project JSON", api, True),
        ("project list JSON", "/api/v1/projects", True),
        ("items JSON, 500, deep", f"{api}/items?after={after}&limit=500", True),
    ]
    headers = {"Authorization": f"Bearer {token}"}
    with (
        httpx.Client(base_url=url, timeout=60) as web,
        httpx.Client(base_url=url, headers=headers, timeout=60) as json_api,
    ):
        _sign_in(web, "bench")
        return [_time(json_api if is_api else web, page, path, n) for page, path, is_api in pages]


@dataclass(frozen=True)
class Result:
    backend: str
    n_items: int
    load_s: float
    counting: tuple[float, float]
    timings: list[Timing]


def run(backend: str, n_items: int, args: argparse.Namespace) -> Result:
    with (
        tempfile.TemporaryDirectory(prefix="labelloop-pages-") as tmp,
        fresh_database(backend, Path(tmp), args.postgres_url) as url,
    ):
        db = open_database(url)
        try:
            start = time.perf_counter()
            project_id = populate(db, n_items, args.labeled)
            load_s = time.perf_counter() - start
            if not db.is_sqlite:
                with db.engine.connect() as conn:
                    conn.execute(text("ANALYZE"))
            log(f"{backend} {n_items:,}: loaded in {load_s:.1f} s")
            with db.writer() as session, session.begin():
                _, token = create_user(session, name="bench", role="admin", password=PASSWORD)
            counting = counting_ms(db, project_id)
            after = deep_cursor(db, project_id)
            timings = _serve_and_measure(url, Path(tmp) / "data", token, project_id, after, args)
        finally:
            db.dispose()
    return Result(backend, n_items, load_s, counting, timings)


def _serve_and_measure(
    url: str, data: Path, token: str, project_id: int, after: int, args: argparse.Namespace
) -> list[Timing]:
    data.mkdir(parents=True, exist_ok=True)
    env = server_env(url, data, LABELLOOP_EMBEDDED_WORKER="false")
    port = free_port()
    log_file = data.parent / "serve.log"
    serve = ("serve", "--port", str(port), "--no-worker", "--log-level", "warning")
    with running(*serve, env=env, log=log_file) as proc:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base, proc, log_file)
        return measure_pages(base, token, project_id, after, args.requests)


# --- output ----------------------------------------------------------------------------------


def print_tables(results: Sequence[Result], requests: int) -> None:
    sizes = sorted({r.n_items for r in results})
    backends = [b for b in ("sqlite", "postgresql") if any(r.backend == b for r in results)]
    columns = [(b, n) for b in backends for n in sizes]
    by_key = {(r.backend, r.n_items): r for r in results}
    head = " | ".join(f"{b} {_size(n)}" for b, n in columns)
    print(f"Median / p95 ms over {requests} requests (one keep-alive connection, no worker):\n")
    print(f"| page | {head} |")
    print("|---|" + "---|" * len(columns))
    for i, timing in enumerate(results[0].timings):
        cells = []
        for key in columns:
            t = by_key[key].timings[i]
            cells.append(f"{t.median_ms:.0f} / {t.p95_ms:.0f}")
        print(f"| {timing.page} | " + " | ".join(cells) + " |")
    print()
    print("Counting instead of counters (ms, in-process, once), and the bulk load (s):\n")
    print(f"| query | {head} |")
    print("|---|" + "---|" * len(columns))
    rows: list[tuple[str, Callable[[Result], str]]] = [
        ("count(*) items + count(distinct item_id) annotations", lambda r: f"{r.counting[0]:.0f}"),
        ("label distribution from every annotation", lambda r: f"{r.counting[1]:.0f}"),
        ("bulk load of items and seed labels, s", lambda r: f"{r.load_s:.1f}"),
    ]
    for name, cell in rows:
        print(f"| {name} | " + " | ".join(cell(by_key[key]) for key in columns) + " |")


def _size(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 and n % 1_000_000 == 0 else f"{n // 1000}k"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page")
    parser.add_argument("--labeled", type=float, default=0.1, help="seed-labelled share")
    parser.add_argument(
        "--postgres-url", default=POSTGRES_URL, help="a server to create the database on"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    sizes = [int(s) for s in args.sizes.split(",")]
    results = [run(backend, n, args) for backend in backends for n in sizes]
    print_tables(results, args.requests)
    return 0


if __name__ == "__main__":
    sys.exit(main())
