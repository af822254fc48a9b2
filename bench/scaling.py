"""Scoring and embedding throughput: the local path against Dask with N local worker processes.

Scores synthetic pools (384-d float32 unit rows, 10 classes, a LabelModel fitted on 2,000
rows) with the margin strategy, locally and on a `LocalCluster` (N processes x 1 thread):
in-memory features scattered to the workers, and a `StoredPool` the workers read themselves.
Embeds short texts with MiniLM both ways. Prints a table of rows (texts) per second and
whether the Dask top-100 equals the local one.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO_ROOT))

from app.learning.estimators import LabelModel  # noqa: E402
from app.learning.strategies import select_top_k  # noqa: E402
from app.scaling import LOCAL, StoredPool  # noqa: E402
from app.scaling.dask_backend import DaskBackend  # noqa: E402

CLASSES, DIM, LABELLED = 10, 384, 2_000


def synthetic_pool(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n, 384) float32 unit rows around 10 centres, and their (n,) classes."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((CLASSES, DIM), dtype=np.float32)
    y = rng.integers(0, CLASSES, n)
    X = rng.standard_normal((n, DIM), dtype=np.float32)
    X += 0.35 * centres[y]
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X, y


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def bench_scoring(n: int, backend: DaskBackend, workdir: Path) -> list[list[str]]:
    """Rows of the table for one pool size."""
    X, y = synthetic_pool(n)
    model = LabelModel(CLASSES).fit(X[:LABELLED], y[:LABELLED])
    stored = StoredPool.write(workdir / f"pool-{n}", X)
    local, t_local = timed(lambda: LOCAL.score("margin", model, X, rng=np.random.default_rng(0)))
    top = select_top_k(local, 100)
    rows = [
        ["score margin", f"{n:,}", "local, 1 process", f"{t_local:.2f}", f"{n / t_local:,.0f}", "—"]
    ]
    for label, source in (
        ("Dask, in-memory (scattered)", X),
        ("Dask, stored pool (memmap)", stored),
    ):
        scores, t = timed(
            lambda s=source: backend.score("margin", model, s, rng=np.random.default_rng(0))
        )
        same = np.array_equal(select_top_k(scores, 100), top)
        gap = float(np.abs(scores - local).max())
        rows.append(
            ["score margin", f"{n:,}", label, f"{t:.2f}", f"{n / t:,.0f}", f"{same} ({gap:.0e})"]
        )
    return rows


def bench_embedding(n_texts: int, backend: DaskBackend) -> list[list[str]]:
    words = np.array(["card", "late", "refund", "top", "up", "transfer", "pending", "rate", "fee"])
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(words, 4 + i % 16)) for i in range(n_texts)]
    LOCAL.encode(texts[:8])  # load the encoder outside the timing
    backend.encode(texts[:64])  # and the workers' encoders
    local, t_local = timed(lambda: LOCAL.encode(texts))
    remote, t = timed(lambda: backend.encode(texts))
    gap = float(np.abs(local - remote).max())
    return [
        [
            "embed MiniLM",
            f"{n_texts:,}",
            "local, 1 process",
            f"{t_local:.2f}",
            f"{n_texts / t_local:,.0f}",
            "—",
        ],
        [
            "embed MiniLM",
            f"{n_texts:,}",
            "Dask",
            f"{t:.2f}",
            f"{n_texts / t:,.0f}",
            f"max abs gap {gap:.0e}",
        ],
    ]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", default="200000,1000000", help="pool sizes, comma-separated")
    parser.add_argument("--texts", type=int, default=2_000, help="texts to embed (0: skip)")
    parser.add_argument("--workers", type=int, default=2, help="Dask worker processes")
    parser.add_argument("--scheduler", default=None, help="an existing scheduler instead")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from distributed import Client, LocalCluster

    cluster = None
    if args.scheduler is None:
        cluster = LocalCluster(
            n_workers=args.workers,
            processes=True,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=None,
        )
    client = Client(args.scheduler or cluster)
    backend = DaskBackend(client)
    warm = synthetic_pool(5_000, seed=1)[0]
    warm_model = LabelModel(CLASSES).fit(warm[:500], np.arange(500) % CLASSES)
    backend.score("margin", warm_model, warm, rng=np.random.default_rng(0))  # worker imports
    table = []
    with tempfile.TemporaryDirectory() as workdir:
        for n in (int(part) for part in args.rows.split(",") if part):
            table += bench_scoring(n, backend, Path(workdir))
            print(f"scored {n:,} rows", file=sys.stderr)
    if args.texts:
        table += bench_embedding(args.texts, backend)
    header = ["work", "items", "where", "seconds", "items/s", "same top-100 (max abs score gap)"]
    print(
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, "
        f"{len(client.scheduler_info()['workers'])} Dask workers x 1 thread"
    )
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in table:
        print("| " + " | ".join(row) + " |")
    client.close()
    if cluster is not None:
        cluster.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
