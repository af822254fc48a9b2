"""Simulated annotators over HTTP: the R1 fetch-and-label loop, its latencies and its checks.

Shared by the load and isolation benchmarks in ``bench/`` and by the tests that run them small.
Each client is a thread with its own keep-alive ``httpx.Client`` (one connection). Training is
watched and kept busy through the database directly (``tests.runwatch``), so it adds no
requests to the server.
"""

from __future__ import annotations

import json
import os
import random
import resource
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import httpx
import numpy as np
from sqlalchemy import func, select

from app.db import Database
from app.models import Annotation, Project, ProjectRole
from app.projects.members import join
from app.users.service import create_user

ENDPOINTS = ("queue", "label")
MAX_ERROR_MESSAGES = 20
TOPIC_WORDS = {
    "sports": "match goal team coach striker league stadium referee season final cup player",
    "weather": "rain snow storm wind forecast sunny cloud frost thunder humid drizzle heat",
    "food": "pasta bread curry soup recipe chef bakery spicy salad dessert flavour dinner",
}
FILLER = (
    "the a of and to in on at for with this that it was is after before today yesterday "
    "really very quite new old big small long short morning evening week city town people"
)


def synthetic_rows(n: int, *, n_labeled: int = 0, seed: int = 0) -> Iterator[dict[str, object]]:
    """``n`` import rows ``{"id", "text", "label"}`` over three topics; the first
    ``n_labeled`` carry their topic as a seed label, the rest ``None``."""
    rng = random.Random(seed)
    topics = {label: words.split() for label, words in TOPIC_WORDS.items()}
    labels, filler = list(topics), FILLER.split()
    for i in range(n):
        label = labels[i % len(labels)]
        words = rng.choices(topics[label], k=3) + rng.choices(filler, k=rng.randint(5, 12))
        rng.shuffle(words)
        text = f"{' '.join(words)} {i}"
        yield {"id": f"r{i}", "text": text, "label": label if i < n_labeled else None}


def jsonl(rows: Iterator[dict[str, object]]) -> bytes:
    return "\n".join(json.dumps(r) for r in rows).encode()


def create_tokens(db: Database, n: int, *, prefix: str = "annotator") -> list[str]:
    """API tokens of ``n`` new annotators, created through the users service, each an
    annotator member of every project there is (``bench.load.create_project`` adds them to
    the projects made later)."""
    tokens = []
    with db.writer() as session, session.begin():
        projects = list(session.scalars(select(Project)))
        for i in range(n):
            user, token = create_user(session, name=f"{prefix}{i}", role="annotator")
            for project in projects:
                join(session, project, user, ProjectRole.ANNOTATOR)
            tokens.append(token)
    return tokens


@dataclass
class LoadResult:
    """What one run of the loop saw; latencies in seconds, one entry per request."""

    clients: int
    cycles: int
    wall: float = 0.0
    client_cpu: float = 0.0  # CPU seconds of this process (all threads) during the run
    latency: dict[str, list[float]] = field(default_factory=lambda: {e: [] for e in ENDPOINTS})
    served: list[list[int]] = field(default_factory=list)  # per client, item ids served
    acked: list[int] = field(default_factory=list)  # item ids whose label got a 2xx
    error_count: int = 0
    cut_short: int = 0  # cycles not started because max_seconds had passed
    errors: list[str] = field(default_factory=list)  # the first MAX_ERROR_MESSAGES

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latency.values())

    @property
    def throughput(self) -> float:
        """Acknowledged labels per second of wall time."""
        return len(self.acked) / self.wall if self.wall else 0.0

    def percentiles(self, endpoint: str, qs: Sequence[float] = (50, 95, 99)) -> list[float]:
        """Latency percentiles of ``endpoint`` in milliseconds (NaN without samples)."""
        values = self.latency[endpoint]
        if not values:
            return [float("nan")] * len(qs)
        return [float(v) for v in np.percentile(np.array(values) * 1000, qs)]

    def double_leases(self) -> dict[int, list[int]]:
        """Items served to more than one client: item id -> clients."""
        owners: dict[int, list[int]] = {}
        for k, items in enumerate(self.served):
            for item in set(items):
                owners.setdefault(item, []).append(k)
        return {i: ks for i, ks in owners.items() if len(ks) > 1}

    @classmethod
    def merged(cls, results: Sequence[LoadResult]) -> LoadResult:
        """One result holding the requests of all ``results`` (wall and CPU times summed),
        which ran with the same tokens in the same order."""
        out = cls(clients=max(r.clients for r in results), cycles=sum(r.cycles for r in results))
        out.served = [[] for _ in range(out.clients)]
        for r in results:
            out.wall += r.wall
            out.client_cpu += r.client_cpu
            for endpoint in ENDPOINTS:
                out.latency[endpoint] += r.latency[endpoint]
            for k, items in enumerate(r.served):  # client k holds the same token in each
                out.served[k] += items
            out.acked += r.acked
            out.error_count += r.error_count
            out.errors += r.errors[: MAX_ERROR_MESSAGES - len(out.errors)]
        return out

    def _error(self, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERROR_MESSAGES:
            self.errors.append(message)


def run_load(
    url: str,
    project_id: int,
    tokens: Sequence[str],
    *,
    cycles: int,
    labels: Sequence[str],
    timeout: float = 120,
    max_seconds: float | None = None,
    think: float = 0.0,
    seed: int = 0,
    batch: int = 1,
) -> LoadResult:
    """``len(tokens)`` clients, each doing ``cycles`` x (GET queue?limit=1, POST annotation).

    With ``batch`` > 1 a cycle fetches ``batch`` items (``queue?limit=batch``) and posts their
    labels in one request (``annotations/bulk``), as a script or a pre-labeller would.

    The clients start together (a barrier); each labels item ``i`` with
    ``labels[i % len(labels)]``. With ``think`` > 0 a client behaves like a person reading
    the item: before each fetch it pauses for an exponentially distributed time of mean
    ``think`` seconds (seeded per client), so requests arrive spread out as from people;
    with 0 the clients are bots that fetch again as soon as a label is acknowledged.

    Errors (non-2xx, transport errors after ``timeout`` s, an empty queue) are counted and
    the client goes on with its next cycle; after ``max_seconds`` no client starts another
    cycle (``result.cut_short`` counts the skipped).
    """
    result = LoadResult(clients=len(tokens), cycles=cycles)
    result.served = [[] for _ in tokens]
    lock = threading.Lock()

    def client(k: int, start: threading.Barrier, began: list[float]) -> None:
        base = f"/api/v1/projects/{project_id}"
        headers = {"Authorization": f"Bearer {tokens[k]}"}
        pauses = random.Random(seed * 1_000_003 + k)
        with httpx.Client(base_url=url, headers=headers, timeout=timeout) as api:
            start.wait()
            for n in range(cycles):
                if think > 0:
                    time.sleep(pauses.expovariate(1 / think))  # the person reads the item
                if max_seconds is not None and time.perf_counter() - began[0] > max_seconds:
                    with lock:
                        result.cut_short += cycles - n
                    return
                items = _fetch(api, base, result, lock, batch)
                if items:
                    result.served[k] += items
                    _label(api, base, items, labels, result, lock)

    _run_together(len(tokens), client, result)
    return result


def _run_together(
    n: int, client: Callable[[int, threading.Barrier, list[float]], None], result: LoadResult
) -> None:
    """``client(k, start, began)`` in ``n`` threads released together by the barrier ``start``,
    whose action puts the wall clock and CPU time into ``began``; the run's times in ``result``."""
    began: list[float] = []  # wall clock and CPU time at the start, set by the barrier

    def begin() -> None:
        began.extend((time.perf_counter(), own_cpu()))

    start = threading.Barrier(n + 1, action=begin)
    threads = [
        threading.Thread(target=client, args=(k, start, began), daemon=True) for k in range(n)
    ]
    for t in threads:
        t.start()
    start.wait()
    for t in threads:
        t.join()
    result.wall = time.perf_counter() - began[0]
    result.client_cpu = own_cpu() - began[1]


def _timed(
    endpoint: str, call: Callable[[], httpx.Response], result: LoadResult, lock: threading.Lock
) -> httpx.Response | None:
    """Run one request, record its latency; a 2xx response, or None with the error counted."""
    t0 = time.perf_counter()
    try:
        got: httpx.Response | Exception = call()
    except httpx.HTTPError as exc:
        got = exc
    elapsed = time.perf_counter() - t0
    with lock:
        result.latency[endpoint].append(elapsed)
        if isinstance(got, Exception):
            result._error(f"{endpoint}: {type(got).__name__}: {got}")
        elif got.status_code >= 300:
            result._error(f"{endpoint}: {got.status_code} {got.text[:200]}")
        else:
            return got
    return None


def _fetch(
    api: httpx.Client, base: str, result: LoadResult, lock: threading.Lock, limit: int
) -> list[int]:
    got = _timed("queue", lambda: api.get(f"{base}/queue", params={"limit": limit}), result, lock)
    items = got.json()["items"] if got is not None else None
    if items == []:
        with lock:
            result._error("queue: no item served")
    return [int(item["id"]) for item in items or []]


def _label(
    api: httpx.Client,
    base: str,
    items: list[int],
    labels: Sequence[str],
    result: LoadResult,
    lock: threading.Lock,
) -> None:
    """Label ``items`` (item ``i`` gets ``labels[i % len(labels)]``): one request either way."""
    body = [{"item_id": item, "label": labels[item % len(labels)]} for item in items]
    url, payload = f"{base}/annotations", body[0]
    if len(body) > 1:
        url, payload = f"{base}/annotations/bulk", {"annotations": body}
    if _timed("label", lambda: api.post(url, json=payload), result, lock):
        with lock:
            result.acked += items


@dataclass(frozen=True)
class LabelCheck:
    """The stored annotations of a project against the acknowledged (2xx) labels."""

    wrong: list[str]  # acknowledged labels not stored exactly once
    unacknowledged: int  # labels stored without a 2xx reaching the client (it timed out)

    @property
    def ok(self) -> bool:
        return not self.wrong and not self.unacknowledged


def check_labels(db: Database, project_id: int, acked: Sequence[int]) -> LabelCheck:
    """Every acknowledged label of ``project_id`` is stored exactly once; counts the rest."""
    with db.reader() as session:
        stored = dict(
            session.execute(
                select(Annotation.item_id, func.count())
                .where(Annotation.project_id == project_id, Annotation.user_id.is_not(None))
                .group_by(Annotation.item_id)
            ).all()
        )
    expected: dict[int, int] = {}
    for item in acked:
        expected[item] = expected.get(item, 0) + 1
    wrong = [
        f"item {i}: {n} labels acknowledged, {stored.get(i, 0)} stored"
        for i, n in sorted(expected.items())
        if n != 1 or stored.get(i, 0) != 1
    ]
    return LabelCheck(wrong, sum(n for i, n in stored.items() if i not in expected))


# --- CPU use ---------------------------------------------------------------------------------


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def process_cpu(pid: int) -> float:
    """CPU seconds used so far by process ``pid`` (Linux ``/proc``; NaN elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu(pid: int) -> float:
    """CPU seconds used so far by process ``pid`` and its live descendants (Linux)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += process_cpu(current)
        todo += children.get(current, [])
    return total


def machine_busy() -> float:
    """CPU seconds all cores of the machine spent busy so far (Linux; NaN elsewhere)."""
    try:
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
    except OSError:
        return float("nan")
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")
