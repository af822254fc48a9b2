"""Many API clients fetching and labelling at once against a real server process.

Reduced size by default; ``LABELLOOP_TEST_FULL=1`` runs 50 clients x 200 cycles.
"""

from __future__ import annotations

import csv
import io
import os
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from app.db import Database
from tests.factories import create_project, create_user
from tests.server import serve

pytestmark = pytest.mark.process

FULL = os.environ.get("LABELLOOP_TEST_FULL") == "1"
CLIENTS, CYCLES = (50, 200) if FULL else (50, 4)


def test_no_double_leases_no_lost_labels_no_errors(
    db_url: str, db: Database, tmp_path: Path
) -> None:
    project = create_project(db, n_items=CLIENTS * CYCLES + 50, batch_size=50)
    _, admin = create_user(db)
    tokens = [create_user(db, name=f"c{i}", role="annotator")[1] for i in range(CLIENTS)]
    served: list[list[int]] = [[] for _ in range(CLIENTS)]
    acked: list[list[int]] = [[] for _ in range(CLIENTS)]
    latency: dict[str, list[float]] = {"queue": [], "label": []}
    failures: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS)

    def client(k: int, url: str) -> None:
        base = f"/api/v1/projects/{project.id}"
        with httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {tokens[k]}"}, timeout=60
        ) as api:
            start.wait()
            for _ in range(CYCLES):
                t0 = time.perf_counter()
                got = api.get(f"{base}/queue", params={"limit": 1})
                t1 = time.perf_counter()
                if got.status_code != 200 or not got.json()["items"]:
                    with lock:
                        failures.append(f"queue {got.status_code} {got.text[:200]}")
                    return
                item = got.json()["items"][0]["id"]
                served[k].append(item)
                posted = api.post(f"{base}/annotations", json={"item_id": item, "label": "food"})
                t2 = time.perf_counter()
                with lock:
                    latency["queue"].append(t1 - t0)
                    latency["label"].append(t2 - t1)
                    if posted.status_code >= 300:
                        failures.append(f"label {posted.status_code} {posted.text[:200]}")
                    else:
                        acked[k].append(item)

    with serve(db_url, tmp_path / "data") as url:
        threads = [threading.Thread(target=client, args=(k, url)) for k in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        export = httpx.get(
            f"{url}/api/v1/projects/{project.id}/export",
            headers={"Authorization": f"Bearer {admin}"},
            timeout=60,
        )
    assert failures == []
    all_served = [i for s in served for i in s]
    assert len(all_served) == CLIENTS * CYCLES
    doubles = _served_twice(served)
    assert not doubles, f"items served twice (item: clients): {doubles}"
    exported = [int(r["item_id"]) for r in csv.DictReader(io.StringIO(export.text))]
    all_acked = [i for a in acked for i in a]
    assert sorted(exported) == sorted(all_acked), "every acknowledged label, exactly once"
    _print_percentiles(latency)


def _served_twice(served: list[list[int]]) -> dict[int, list[int]]:
    """Items served to more than one client: item -> clients."""
    owners: dict[int, list[int]] = {}
    for k, items in enumerate(served):
        for i in items:
            owners.setdefault(i, []).append(k)
    return {i: ks for i, ks in owners.items() if len(ks) > 1}


def _print_percentiles(latency: dict[str, list[float]]) -> None:
    for name, values in latency.items():
        p50, p95, p99 = np.percentile(np.array(values) * 1000, [50, 95, 99])
        print(f"{name}: n={len(values)} p50={p50:.1f} ms p95={p95:.1f} ms p99={p99:.1f} ms")
