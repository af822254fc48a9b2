"""Import at scale: a generated CSV uploaded to a real ``labelloop serve`` as a background job.

Per backend and size: a fresh database (a SQLite file, or a PostgreSQL database created and
dropped), a server process started here, one project, then one multipart upload of the CSV with
``?background=true``, polled until the job ends. Meanwhile an annotator asks another project's
queue for an item every 0.2 s, so the table shows what an import costs the people labelling.
Prints upload and import times, rows/s, the server's peak RSS (VmHWM), and the slowest queue
answer during the import.

``--trained``: the server runs as ``labelloop serve`` does by default (embedded worker, default
project options: MiniLM features, which a big pool replaces by static ones until MiniLM is done);
the table adds the time from the upload's start until the target's queue serves the first
model's ranking, and with ``--switch-timeout`` until the published model is a MiniLM one.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO_ROOT))

from app.db import open_database  # noqa: E402
from app.users.service import create_user  # noqa: E402
from bench.pages import fresh_database  # noqa: E402  (a fresh database per run, as pages.py)
from tests.server import free_port, running, server_env, wait_until_up  # noqa: E402

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
LABELS = ["card", "transfer", "refund"]
WORDS = [
    "the",
    "a",
    "card",
    "payment",
    "transfer",
    "account",
    "money",
    "bank",
    "refund",
    "fee",
    "exchange",
    "rate",
    "atm",
    "cash",
    "pin",
    "top",
    "up",
    "verify",
    "identity",
    "app",
    "declined",
    "pending",
    "charge",
]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def write_csv(path: Path, rows: int) -> None:
    """``rows`` distinct texts of ~22 words (~145 bytes a row), one in ten labelled."""
    rng = random.Random(rows)
    with path.open("w") as out:
        out.write("id,text,label\n")
        for i in range(rows):
            words = " ".join(rng.choice(WORDS) for _ in range(22))
            label = LABELS[i % 3] if i % 10 == 0 else ""
            out.write(f"r{i},{words} #{i},{label}\n")


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set size so far (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for pid {pid}")


@dataclass
class Annotator:
    """Asks another project's queue for one item every ``interval`` s until stopped."""

    api: httpx.Client
    project_id: int
    interval: float = 0.2
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self._stop.wait(self.interval):
            start = time.perf_counter()
            try:
                ok = self.api.get(f"/api/v1/projects/{self.project_id}/queue?limit=1").is_success
            except httpx.HTTPError:
                ok = False
            self.latencies.append(time.perf_counter() - start)
            self.errors += not ok

    def stop(self) -> None:
        self._stop.set()


@dataclass(frozen=True)
class Result:
    backend: str
    rows: int
    megabytes: float
    upload_s: float
    import_s: float
    total_s: float
    peak_rss_mb: float
    queue_max_s: float
    queue_errors: int
    status: str
    project_id: int = 0
    first_model_s: float | None = None  # upload start -> the queue serves a model's ranking
    first_features: str = ""
    minilm_s: float | None = None  # upload start -> a MiniLM model is published

    def line(self) -> str:
        rate = self.rows / self.total_s
        return (
            f"| {self.backend} | {self.rows:,} | {self.megabytes:.0f} | {self.upload_s:.1f} | "
            f"{self.import_s:.1f} | {self.total_s:.1f} | {rate:,.0f} | {self.peak_rss_mb:.0f} | "
            f"{self.queue_max_s:.2f} ({self.queue_errors} errors) | {self.status} | "
            f"{_seconds(self.first_model_s)} {self.first_features} | {_seconds(self.minilm_s)} |"
        )


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


HEADER = (
    "| backend | rows | MB | upload s | job s | total s | rows/s | server peak RSS MB "
    "| slowest queue answer s | job | first model's ranking s (features) | MiniLM model s |"
    "\n|---|---|---|---|---|---|---|---|---|---|---|---|"
)


@dataclass(frozen=True)
class Options:
    postgres_url: str = POSTGRES_URL
    trained: bool = False  # embedded worker on: time the first model's ranking
    switch_timeout: float = 0.0  # > 0: also wait this long for the MiniLM model


def run_one(backend: str, csv_path: Path, rows: int, workdir: Path, options: Options) -> Result:
    """Import ``csv_path`` into a fresh database through a fresh server; measure it."""
    with fresh_database(backend, workdir, options.postgres_url) as db_url:
        db = open_database(db_url)
        with db.writer() as session, session.begin():
            token = create_user(session, name="bench-admin", role="admin")[1]
        db.dispose()
        data_dir = workdir / "data"
        data_dir.mkdir(exist_ok=True)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = server_env(db_url, data_dir)
        worker = () if options.trained else ("--no-worker",)
        args = ("serve", "--port", str(port), *worker, "--log-level", "warning")
        with running(*args, env=env, log=workdir / "serve.log") as proc:
            wait_until_up(url, proc, workdir / "serve.log", timeout=300)  # a busy machine is slow
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=url, headers=headers, timeout=600) as api:
                result = _measure(api, backend, csv_path, rows, proc.pid)
                return _trained(api, result, options) if options.trained else result


def _project(api: httpx.Client, name: str) -> int:
    created = api.post("/api/v1/projects", json={"name": name, "labels": LABELS})
    created.raise_for_status()
    return int(created.json()["id"])


def _measure(api: httpx.Client, backend: str, csv_path: Path, rows: int, pid: int) -> Result:
    busy = _project(api, "busy")
    small = "id,text\n" + "".join(f"b{i},busy text number {i}\n" for i in range(200))
    api.post(
        f"/api/v1/projects/{busy}/imports", files={"file": ("b.csv", small.encode())}
    ).raise_for_status()
    target = _project(api, "target")
    annotator = Annotator(api, busy)
    thread = threading.Thread(target=annotator.run, daemon=True)
    thread.start()
    start = time.perf_counter()
    with csv_path.open("rb") as fh:
        response = api.post(
            f"/api/v1/projects/{target}/imports",
            params={"background": "true"},
            files={"file": ("data.csv", fh, "text/csv")},
        )
    uploaded = time.perf_counter()
    response.raise_for_status()
    job_url = response.headers["Location"]
    while (job := api.get(job_url).json())["status"] in ("queued", "running"):
        time.sleep(0.1)  # polling interval
    done = time.perf_counter()
    annotator.stop()
    thread.join()
    if job["status"] != "succeeded":
        log(f"job failed: {job['error']}")
    return Result(
        backend=backend,
        rows=rows,
        megabytes=csv_path.stat().st_size / 1e6,
        upload_s=uploaded - start,
        import_s=done - uploaded,
        total_s=done - start,
        peak_rss_mb=peak_rss_mb(pid),
        queue_max_s=max(annotator.latencies, default=0.0),
        queue_errors=annotator.errors,
        status=f"{job['status']}, {job['imported']} new",
        project_id=target,
    )


def _trained(api: httpx.Client, result: Result, options: Options) -> Result:
    """``result`` with the times until the first model's ranking and the MiniLM model."""
    target = result.project_id
    start = time.perf_counter() - result.total_s  # the upload's start
    first = _wait_model(api, target, lambda m: m["version"] is not None, timeout=3600)
    if first is None:
        return result
    first_s, features = time.perf_counter() - start, first["features"]
    served = api.get(f"/api/v1/projects/{target}/queue", params={"limit": 1}).json()
    assert served.get("model_version") is not None, served  # the queue serves that ranking
    minilm_s = None
    if options.switch_timeout > 0:
        minilm = _wait_model(
            api, target, lambda m: m["features"] == "minilm", options.switch_timeout
        )
        minilm_s = None if minilm is None else time.perf_counter() - start
    return replace(result, first_model_s=first_s, first_features=features, minilm_s=minilm_s)


def _wait_model(
    api: httpx.Client, project: int, done: Callable[[dict[str, Any]], bool], timeout: float
) -> dict[str, Any] | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        model = api.get(f"/api/v1/projects/{project}/model").json()
        if done(model):
            return model
        time.sleep(0.5)  # polling interval, as a client would
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="100000,1000000", help="comma-separated sizes")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    parser.add_argument(
        "--trained", action="store_true", help="embedded worker: time the first model's ranking"
    )
    parser.add_argument(
        "--switch-timeout", type=float, default=0.0, help="with --trained: wait for MiniLM, s"
    )
    args = parser.parse_args(argv)
    options = Options(args.postgres_url, args.trained, args.switch_timeout)
    sizes = [int(n) for n in args.rows.split(",")]
    results = []
    with tempfile.TemporaryDirectory(prefix="labelloop-import-") as tmp:
        files = {}
        for n in sizes:
            files[n] = Path(tmp) / f"rows-{n}.csv"
            log(f"writing {n:,} rows")
            write_csv(files[n], n)
        for backend in args.backends.split(","):
            for n in sizes:
                workdir = Path(tmp) / f"{backend}-{n}"
                workdir.mkdir()
                log(f"{backend}: importing {n:,} rows")
                results.append(run_one(backend, files[n], n, workdir, options))
                log(results[-1].line())
    print(HEADER)
    for result in results:
        print(result.line())
    return 0 if all(r.status.startswith("succeeded") for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
