"""Abuse: what anonymous oversized requests and costly predictions do to a real server.

Starts ``labelloop serve --no-worker`` on a fresh SQLite data directory (its ``TMPDIR`` a
directory of its own, so whatever it spools can be seen), then

(a) ``GET /health`` latency at idle, then while three anonymous clients POST 16 MB bodies of
    nested JSON (``[[[[...]]]]``) to ``/api/v1/projects/1/predict`` over and over;
(b) one anonymous 150 MB multipart upload to ``/api/v1/projects/1/imports``: the answer, how
    long it took, how much of the body went out, and what reached the disk meanwhile;
(c) an authenticated predict at ``predict_max_chars`` against a small one, per feature
    kind, and the server's RSS before, after the large predicts and after a refused one.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import multiprocessing
import os
import select
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier, Event
from pathlib import Path
from queue import Empty
from urllib.parse import urlsplit

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO_ROOT))

from app.config import Settings  # noqa: E402
from app.db import open_database  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.scheduler.worker import Worker  # noqa: E402
from bench.load import admin_token, create_project, serve  # noqa: E402
from bench.pages import log  # noqa: E402
from tests.loadgen import create_tokens, jsonl, synthetic_rows, tree_cpu  # noqa: E402

MB = 1_000_000
BOUNDARY = "abuse-bench-boundary"
CHUNK = 256 * 1024


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmRSS:", 1)[1].split()[0]) / 1024


def disk_bytes(directory: Path) -> int:
    """Bytes of the files under ``directory`` (files that vanish while walking count 0),
    leaving out the server's own log."""
    total = 0
    for root, _, files in os.walk(directory):
        for name in files:
            if name.endswith(".log"):
                continue
            with contextlib.suppress(OSError):
                total += os.stat(os.path.join(root, name)).st_size
    return total


def post_raw(url: str, path: str, head: str, body: Iterator[bytes], length: int) -> tuple[int, int]:
    """POST ``body`` on a raw socket until the server answers: (status or 0, bytes sent)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=120) as sock:
        request = f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Length: {length}\r\n{head}"
        sock.sendall(f"{request}\r\n".encode())
        sent = 0
        for piece in body:
            if select.select([sock], [], [], 0)[0]:
                break  # answered (or closed) before the body was all sent
            try:
                sock.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(piece)
        try:
            status_line = sock.recv(4096).split(b"\r\n", 1)[0]
        except (ConnectionResetError, TimeoutError):
            status_line = b""
    fields = status_line.split()
    return (int(fields[1]) if len(fields) > 1 else 0), sent


def nested_json(size: int) -> Iterator[bytes]:
    """``[[[[...]]]]`` of ``size`` bytes, in chunks."""
    half = size // 2
    for chunk, n in ((b"[" * CHUNK, half), (b"]" * CHUNK, size - half)):
        for start in range(0, n, CHUNK):
            yield chunk[: min(CHUNK, n - start)]


def attacker(url: str, path: str, size: int, go: Barrier, stop: Event, answers: Queue) -> None:
    """POST nested-JSON bodies of ``size`` bytes until ``stop``; one (status, sent, s) each.

    Runs in a process of its own, so the attack never takes the measuring client's GIL.
    """
    head = "Content-Type: application/json\r\n"
    go.wait()
    while not stop.is_set():
        t0 = time.perf_counter()
        status, sent = post_raw(url, path, head, nested_json(size), size)
        answers.put((status, sent, time.perf_counter() - t0))


@contextlib.contextmanager
def attack(url: str, path: str, size: int, clients: int) -> Iterator[list[tuple]]:
    """``clients`` attacker processes while the ``with`` body runs; yields their answers
    (filled in when the body ends)."""
    ctx = multiprocessing.get_context("fork")  # no imports to redo: a started process attacks
    go, stop, queue = ctx.Barrier(clients + 1), ctx.Event(), ctx.Queue()
    args = (url, path, size, go, stop, queue)
    procs = [ctx.Process(target=attacker, args=args) for _ in range(clients)]
    for proc in procs:
        proc.start()
    go.wait()
    answers: list[tuple] = []
    try:
        yield answers
    finally:
        stop.set()
        while any(proc.is_alive() for proc in procs) or not queue.empty():
            with contextlib.suppress(Empty):
                answers.append(queue.get(timeout=0.1))
        for proc in procs:
            proc.join()


def health_latencies(url: str, seconds: float) -> list[float]:
    """Sequential ``GET /health`` on one connection for ``seconds``; seconds each."""
    out: list[float] = []
    end = time.perf_counter() + seconds
    with httpx.Client(base_url=url, timeout=60) as client:
        while time.perf_counter() < end:
            t0 = time.perf_counter()
            client.get("/health").raise_for_status()
            out.append(time.perf_counter() - t0)
    return out


def p50_p99(values: Sequence[float]) -> tuple[float, float]:
    return statistics.median(values), statistics.quantiles(values, n=100, method="inclusive")[98]


def health_table(url: str, args: argparse.Namespace) -> None:
    """(a): /health at idle and under the anonymous 16 MB predict bodies."""
    health_latencies(url, 1)  # warm the connection and the route
    idle = health_latencies(url, args.seconds)
    with attack(url, "/api/v1/projects/1/predict", args.json_mb * MB, 3) as answers:
        busy = health_latencies(url, args.seconds)
    print("| phase | requests | p50 ms | p99 ms | max ms | p50 / idle | p99 / idle |")
    print("|---|---|---|---|---|---|---|")
    base = p50_p99(idle)
    for phase, values in (("idle", idle), (f"3 x {args.json_mb} MB anonymous predict", busy)):
        p50, p99 = p50_p99(values)
        print(
            f"| {phase} | {len(values)} | {1e3 * p50:.1f} | {1e3 * p99:.1f} "
            f"| {1e3 * max(values):.1f} | {p50 / base[0]:.2f} | {p99 / base[1]:.2f} |"
        )
    statuses = sorted({a[0] for a in answers})
    sent = statistics.mean(a[1] for a in answers) / MB
    took = statistics.mean(a[2] for a in answers) * 1e3
    print(
        f"\nattack: {len(answers)} POSTs, answers {statuses}, {sent:.2f} MB of "
        f"{args.json_mb} MB sent before the answer on average, {took:.1f} ms each\n"
    )


def multipart(size: int) -> tuple[bytes, Iterator[bytes], bytes]:
    """A CSV file part of ``size`` bytes: (part head, its rows in chunks, closing boundary)."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
        "Content-Type: text/csv\r\n\r\ntext\r\n"
    ).encode()
    row = b"an ordinary row of text for an upload nobody signed in to send\r\n"
    block = row * (CHUNK // len(row))

    def rows() -> Iterator[bytes]:
        for start in range(0, size, len(block)):
            yield block[: min(len(block), size - start)]

    return head, rows(), f"\r\n--{BOUNDARY}--\r\n".encode()


def peak_while(dirs: Sequence[Path], work: Callable[[], object]) -> tuple[object, list[int]]:
    """Run ``work``; meanwhile sample the bytes under each of ``dirs``: their peaks."""
    peaks = [disk_bytes(d) for d in dirs]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.002):  # every 2 ms until the work is done
            for i, d in enumerate(dirs):
                peaks[i] = max(peaks[i], disk_bytes(d))

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        return work(), peaks
    finally:
        done.set()
        sampler.join()


def upload_table(url: str, data: Path, spool: Path, args: argparse.Namespace) -> None:
    """(b): an anonymous upload of ``--upload-mb`` MB: the answer, and what hit the disk."""
    head, rows, tail = multipart(args.upload_mb * MB)
    length = len(head) + args.upload_mb * MB + len(tail)
    before = [disk_bytes(data), disk_bytes(spool)]
    t0 = time.perf_counter()
    answer, peaks = peak_while(
        [data, spool],
        lambda: post_raw(
            url,
            "/api/v1/projects/1/imports",
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n",
            itertools.chain([head], rows, [tail]),
            length,
        ),
    )
    seconds, (status, sent) = time.perf_counter() - t0, answer  # type: ignore[misc]
    after = [disk_bytes(data), disk_bytes(spool)]
    print(
        "| request | status | s to the answer | MB sent | data dir B before / peak / after ", end=""
    )
    print("| temp dir B before / peak / after |\n|---|---|---|---|---|---|")
    print(
        f"| anonymous {args.upload_mb} MB upload | {status} | {seconds:.3f} | {sent / MB:.2f} "
        f"| {before[0]} / {peaks[0]} / {after[0]} | {before[1]} / {peaks[1]} / {after[1]} |\n"
    )


@dataclass
class Cost:
    features: str
    request: str
    texts: int
    chars: int
    status: int
    wall: list[float]  # seconds per call
    server_cpu: float  # seconds per call
    rss: float  # server MB after the calls

    def wall_ratio(self, base: Cost) -> float:
        return statistics.median(self.wall) / statistics.median(base.wall)


def trained_project(
    api: httpx.Client, settings: Settings, kind: str, args: argparse.Namespace
) -> int:
    """A project with ``kind`` features and a published model (trained in this process)."""
    rows = jsonl(synthetic_rows(args.items, n_labeled=args.labels, seed=7))
    project = create_project(api, f"cost-{kind}", rows, batch_size=None, features=kind)
    api.post(f"/api/v1/projects/{project}/train").raise_for_status()
    db = open_database(settings.sqlalchemy_url)
    try:
        worker = Worker(db, settings)
        while worker.run_once():
            pass
    finally:
        db.dispose()
    if api.get(f"/api/v1/projects/{project}/model").json()["version"] is None:
        raise RuntimeError(f"the {kind} project has no model; see the worker's log")
    return project


def texts_of(chars: int, n: int) -> list[str]:
    """``n`` texts of ``chars`` characters each, made of the projects' words."""
    words = " ".join(str(r["text"]) for r in synthetic_rows(200, seed=3))
    words = " ".join([words] * (chars // len(words) + 2))
    return [words[i : i + chars] for i in range(n)]


def timed(
    client: httpx.Client, pid: int, path: str, texts: list[str], repeat: int
) -> tuple[int, list[float], float]:
    """``repeat`` predicts of ``texts``: (last status, seconds each, server CPU s per call)."""
    walls, status, cpu0 = [], 0, tree_cpu(pid)
    for _ in range(repeat):
        t0 = time.perf_counter()
        status = client.post(path, json={"texts": texts}).status_code
        walls.append(time.perf_counter() - t0)
    return status, walls, (tree_cpu(pid) - cpu0) / repeat


def predict_costs(
    url: str, token: str, pid: int, project: int, kind: str, args: argparse.Namespace
) -> list[Cost]:
    """(c) for one feature kind: a small predict, one at the bound, one over it (refused)."""
    path = f"/api/v1/projects/{project}/predict"
    payloads = [
        ("small", texts_of(60, 10), args.repeat),
        ("at the bound", texts_of(args.text_chars, args.max_chars // args.text_chars), args.repeat),
        ("over the bound", texts_of(100_000, 160), args.repeat),
    ]
    costs = []
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=600) as client:
        client.post(path, json={"texts": payloads[0][1]}).raise_for_status()  # loads the model
        for name, texts, repeat in payloads:
            status, walls, cpu = timed(client, pid, path, texts, repeat)
            chars = sum(map(len, texts))
            costs.append(Cost(kind, name, len(texts), chars, status, walls, cpu, rss_mb(pid)))
    return costs


def cost_table(costs: list[Cost], started_mb: float) -> None:
    print(f"server RSS at start, no model loaded: {started_mb:.0f} MB\n")
    print("| features | request | texts | characters | status | median ms | server CPU ms ", end="")
    print("| median / small | server RSS after, MB (vs small) |\n" + "|---" * 9 + "|")
    small: dict[str, Cost] = {}
    for c in costs:
        base = small.setdefault(c.features, c)
        median, ratio = statistics.median(c.wall), c.wall_ratio(base)
        print(
            f"| {c.features} | {c.request} | {c.texts} | {c.chars:,} | {c.status} "
            f"| {1e3 * median:.1f} | {1e3 * c.server_cpu:.0f} "
            f"| {ratio:.1f} | {c.rss:.0f} ({c.rss - base.rss:+.0f}) |"
        )


def run(url: str, data: Path, spool: Path, args: argparse.Namespace) -> None:
    db = open_database(url)
    try:
        admin, tokens = admin_token(db), create_tokens(db, len(args.features), prefix="cost")
    finally:
        db.dispose()
    env = {
        "TMPDIR": str(spool),
        "LABELLOOP_PREDICT_MAX_CHARS": str(args.max_chars),
        "LABELLOOP_RATE_LIMIT_PREDICT": "1000/minute",  # (c) times predictions, not the limit
    }
    settings = Settings(database_url=url, data_dir=data)
    headers = {"Authorization": f"Bearer {admin}"}
    with (
        serve(url, data, "--no-worker", **env) as server,
        httpx.Client(base_url=server.url, headers=headers, timeout=600) as api,
    ):
        started_mb = rss_mb(server.pid)
        create_project(api, "abuse", jsonl(synthetic_rows(50)), batch_size=None)  # project 1
        log("(a) /health under anonymous 16 MB predict bodies")
        health_table(server.url, args)
        log("(b) an anonymous upload")
        upload_table(server.url, data, spool, args)
        costs: list[Cost] = []
        for kind, token in zip(args.features, tokens, strict=True):
            log(f"(c) predict costs, {kind} features")
            project = trained_project(api, settings, kind, args)
            costs += predict_costs(server.url, token, server.pid, project, kind, args)
        cost_table(costs, started_mb)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=15, help="of /health per phase")
    parser.add_argument("--json-mb", type=int, default=16, help="each anonymous predict body")
    parser.add_argument("--upload-mb", type=int, default=150)
    parser.add_argument(
        "--max-chars",
        type=int,
        default=Settings.model_fields["predict_max_chars"].default,
        help="the server's LABELLOOP_PREDICT_MAX_CHARS",
    )
    parser.add_argument("--text-chars", type=int, default=200, help="per text at the bound")
    parser.add_argument("--repeat", type=int, default=5, help="timed predicts per payload")
    parser.add_argument("--items", type=int, default=600, help="items of each cost project")
    parser.add_argument("--labels", type=int, default=90, help="seed labels of each")
    parser.add_argument(
        "--features",
        type=lambda s: [k for k in s.split(",") if k],
        default=["tfidf", "minilm"],
        help="feature kinds of (c), comma-separated ('' skips (c))",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="labelloop-abuse-") as tmp:
        data, spool = Path(tmp) / "data", Path(tmp) / "tmp"
        data.mkdir()
        spool.mkdir()
        url = f"sqlite:///{data / 'labelloop.db'}"
        upgrade(url)
        run(url, data, spool, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
