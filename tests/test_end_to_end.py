"""The whole loop over HTTP against a real server process: import, label, retrain, re-rank."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import httpx
import pytest

from app.db import Database
from tests.factories import create_user
from tests.server import ROOT, serve

pytestmark = pytest.mark.process

BANKING77 = ROOT.parent / "shared" / "data" / "banking77" / "train.csv"
ROUNDS = 10  # each a real retrain and re-rank over 10k items (~3 s)
BATCH = 25


def _wait_for_version(
    api: httpx.Client, pid: int, version: int, timeout: float = 180
) -> tuple[dict, list[float]]:
    """Poll /model until ``version`` is published; meanwhile time queue requests."""
    deadline = time.monotonic() + timeout
    latencies: list[float] = []
    while time.monotonic() < deadline:
        model = api.get(f"/api/v1/projects/{pid}/model").json()
        if model["version"] is not None and model["version"] >= version:
            return model, latencies
        start = time.perf_counter()
        queue = api.get(f"/api/v1/projects/{pid}/queue", params={"limit": 1})
        assert queue.status_code == 200
        latencies.append(time.perf_counter() - start)
    pytest.fail(f"model version {version} not published within {timeout}s: {model}")


@pytest.mark.skipif(not BANKING77.is_file(), reason="banking77 data set not found")
def test_rounds_of_labelling_advance_the_model(db_url: str, db: Database, tmp_path: Path) -> None:
    with BANKING77.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    gold = {str(i): row["category"] for i, row in enumerate(rows)}
    _, token = create_user(db)
    labels = sorted(set(gold.values()))
    with (
        serve(
            db_url,
            tmp_path / "data",
            LABELLOOP_CV_FOLDS="3",
            LABELLOOP_RATE_LIMIT_QUEUE="100000/minute",  # polled back to back while it trains
        ) as url,
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as api,
    ):
        pid = _create_project(api, labels)
        imported = api.post(
            f"/api/v1/projects/{pid}/imports",
            files={"file": ("train.csv", _pool_csv(rows), "text/csv")},
        )
        assert imported.status_code == 201, imported.text
        assert imported.json()["imported"] + imported.json()["duplicates"] == len(rows)
        versions, during_training = [], []
        for round_no in range(ROUNDS + 1):  # the random seed batch, then the ranked rounds
            _label_a_batch(api, pid, round_no, gold)
            model, latencies = _wait_for_version(api, pid, round_no + 1)
            versions.append(model["version"])
            during_training += latencies
        assert versions == list(range(1, ROUNDS + 2))
        assert model["n_labels"] == (ROUNDS + 1) * BATCH
        assert during_training, "queue requests should have been made while training ran"
        final = api.get(f"/api/v1/projects/{pid}/model").json()
        assert final["metrics"] is None or final["metrics"]["accuracy"] > 0.2  # chance: 1/77
        predicted = api.post(
            f"/api/v1/projects/{pid}/predict",
            json={"texts": ["I lost my card", "what is the exchange rate?"]},
        )
        assert predicted.status_code == 200
        assert all(p["label"] in labels for p in predicted.json()["predictions"])


def _pool_csv(rows: list[dict[str, str]]) -> bytes:
    """The rows' texts as an unlabelled CSV pool (id,text), id = row index."""
    pool = io.StringIO()
    writer = csv.writer(pool)
    writer.writerow(["id", "text"])
    writer.writerows([str(i), row["text"]] for i, row in enumerate(rows))
    return pool.getvalue().encode()


def _create_project(api: httpx.Client, labels: list[str]) -> int:
    project = api.post(
        "/api/v1/projects",
        json={
            "name": "banking77",
            "labels": labels,
            "strategy": "margin",
            "batch_size": BATCH,
            "features": "tfidf",  # embedding 10k texts first would dominate the test
            "warm_up": 0,  # margin from the first model on (warm-up: tests/training)
            "audit_share": 0,  # random audit items carry no guess (tests/queue/test_overlap)
        },
    ).json()
    return project["id"]


def _label_a_batch(api: httpx.Client, pid: int, round_no: int, gold: dict[str, str]) -> None:
    """Label the BATCH items the queue serves in round ``round_no`` with their gold labels;
    from round 1 on they come from the ranking of model version ``round_no``."""
    queue = api.get(f"/api/v1/projects/{pid}/queue", params={"limit": BATCH}).json()
    assert len(queue["items"]) == BATCH, queue
    if round_no > 0:
        assert queue["model_version"] == round_no, (round_no, queue["model_version"])
        # all but the one item leased by _wait_for_version's polling come from the new ranking
        predicted = [item for item in queue["items"] if item["prediction"] is not None]
        assert len(predicted) >= BATCH - 1
    for item in queue["items"]:
        posted = api.post(
            f"/api/v1/projects/{pid}/annotations",
            json={"item_id": item["id"], "label": gold[item["external_id"]]},
        )
        assert posted.status_code == 201, posted.text
