"""Label efficiency and re-rank latency of a running labelloop server, driven by an oracle.

For each query strategy: create a project, import the train pool without labels, label what the
queue serves with the gold labels batch by batch, and after each retrain score the test set.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from simulate_data import (
    Dataset,
    SimulationError,
    accuracy,
    load_dataset,
    macro_f1,
    pool_csv,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = "../shared/data/banking77"  # relative to the repo root
PREDICT_BATCH = 256


@dataclass(frozen=True)
class RoundResult:
    n_labels: int
    model_version: int
    accuracy: float
    macro_f1: float
    model_seconds: float  # last label posted -> /model reports the new version
    refresh_seconds: float  # last label posted -> /queue serves the new version's ranking


@dataclass(frozen=True)
class Refresh:
    model: dict[str, Any]
    model_seconds: float
    refresh_seconds: float


def labels_to_reach(results: Sequence[RoundResult], target: float) -> int | None:
    """The first label count whose accuracy is at least target, or None."""
    return next((r.n_labels for r in results if r.accuracy >= target), None)


# --- API -----------------------------------------------------------------------------------------


class Api:
    """Thin JSON client: every non-2xx answer becomes a SimulationError with status and body."""

    def __init__(self, url: str, token: str) -> None:
        self.client = httpx.Client(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(120.0, connect=10.0),
        )

    def close(self) -> None:
        self.client.close()

    def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise SimulationError(f"{method} {self.client.base_url}{path} failed: {exc!r}") from exc
        if not response.is_success:
            body = response.text[:2000]
            raise SimulationError(
                f"{method} {path} -> HTTP {response.status_code} {response.reason_phrase}\n{body}"
            )
        try:
            return response.status_code, response.json()
        except ValueError as exc:
            raise SimulationError(
                f"{method} {path}: response is not JSON: {response.text[:500]}"
            ) from exc

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, params=params)[1]

    def post(self, path: str, body: Any) -> tuple[int, Any]:
        return self.call("POST", path, json=body)


def newer(version: int | None, previous: int | None) -> bool:
    return version is not None and (previous is None or version > previous)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- one simulated annotator ---------------------------------------------------------------------


class Simulation:
    """One project driven through the API by an oracle that knows every gold label."""

    def __init__(self, api: Api, data: Dataset, args: argparse.Namespace, strategy: str) -> None:
        self.api, self.data, self.args, self.strategy = api, data, args, strategy
        self.project_id: int | None = None
        self.labeled: set[int] = set()  # item ids labelled so far
        self.model_version: int | None = None
        self.results: list[RoundResult] = []  # kept here so a failed run still reports

    @property
    def base(self) -> str:
        return f"/api/v1/projects/{self.project_id}"

    def create_project(self, stamp: str) -> None:
        body = {
            "name": f"sim-{self.strategy}-{stamp}",
            "labels": self.data.labels,
            "multi_label": False,
            "strategy": self.strategy,
            "batch_size": self.args.batch,
        }
        project = self.api.post("/api/v1/projects", body)[1]
        self.project_id = project["id"]
        log(f"[{self.strategy}] project {self.project_id} {body['name']!r}")

    def import_pool(self) -> None:
        files = {"file": ("pool.csv", pool_csv(self.data.pool_texts), "text/csv")}
        form = {"text_field": "text", "id_field": "id"}
        result = self.api.call("POST", f"{self.base}/imports", files=files, data=form)[1]
        log(f"[{self.strategy}] imported {result}")
        if result.get("labeled"):
            raise SimulationError(f"import should carry no labels but reported {result}")
        if result.get("duplicates"):
            log(f"[{self.strategy}] warning: {result['duplicates']} duplicate texts were skipped")

    def label_batch(self, n: int) -> float:
        """Label the next n queued items with gold labels; return the time after the last POST."""
        target = len(self.labeled) + n
        while len(self.labeled) < target:
            items = self.api.get(f"{self.base}/queue", limit=target - len(self.labeled))["items"]
            fresh = [item for item in items if item["id"] not in self.labeled]
            if len(fresh) < len(items):
                log(f"[{self.strategy}] warning: the queue served already-labelled items")
            if not fresh:
                raise SimulationError(f"the queue has nothing new after {len(self.labeled)} labels")
            for item in fresh:
                self.annotate(item)
        return time.perf_counter()

    def annotate(self, item: dict[str, Any]) -> None:
        body = {"item_id": item["id"], "label": self.gold(item)}
        status, _ = self.api.post(f"{self.base}/annotations", body)
        if status != 201:
            log(f"[{self.strategy}] warning: item {item['id']}: annotation answered {status}")
        self.labeled.add(item["id"])

    def gold(self, item: dict[str, Any]) -> str:
        external_id = item.get("external_id")
        try:
            return self.data.pool_labels[int(external_id)]
        except (TypeError, ValueError, IndexError) as exc:
            raise SimulationError(f"item has no usable external_id: {item}") from exc

    def wait_for_refresh(self, t_last_label: float) -> Refresh:
        """Poll /model and /queue until a newer model is published and idle, and queued.

        Waiting for status "idle" lets retrains that were queued behind the first one finish, so
        the result describes a model trained on every label posted so far.
        """
        deadline = t_last_label + self.args.timeout
        seen_model: dict[int, float] = {}  # version -> seconds until /model first showed it
        seen_queue: dict[int, float] = {}  # version -> seconds until /queue first served it
        model: dict[str, Any] | None = None
        last_model: Any = None
        last_queue: Any = None
        while model is None or not any(v >= model["version"] for v in seen_queue):
            if time.perf_counter() > deadline:
                raise SimulationError(
                    f"[{self.strategy}] no new idle model and ranking {self.args.timeout:g} s "
                    f"after the last label (version before: {self.model_version}; "
                    f"last /model: {last_model}; last /queue: {last_queue})"
                )
            if model is None:
                last_model = self.api.get(f"{self.base}/model")
                version = last_model["version"]
                if newer(version, self.model_version):
                    seen_model.setdefault(version, time.perf_counter() - t_last_label)
                    if last_model["status"] == "idle":
                        model = last_model
            last_queue = self.api.get(f"{self.base}/queue", limit=1)
            version = last_queue["model_version"]
            if newer(version, self.model_version):
                seen_queue.setdefault(version, time.perf_counter() - t_last_label)
            time.sleep(self.args.poll_interval)
        version = model["version"]
        self.model_version = version
        refresh = min(t for v, t in seen_queue.items() if v >= version)
        return Refresh(model, seen_model[version], refresh)

    def evaluate(self) -> tuple[int, float, float]:
        """Predict the test texts; return (model version used, accuracy, macro-F1)."""
        texts = self.data.test_texts
        predicted: list[str] = []
        versions: set[int] = set()
        for start in range(0, len(texts), PREDICT_BATCH):
            body = {"texts": texts[start : start + PREDICT_BATCH]}
            answer = self.api.post(f"{self.base}/predict", body)[1]
            predicted.extend(p["label"] for p in answer["predictions"])
            versions.add(answer["model_version"])
        if len(predicted) != len(texts):
            raise SimulationError(
                f"/predict returned {len(predicted)} predictions for {len(texts)}"
            )
        if len(versions) > 1:
            log(f"[{self.strategy}] warning: model changed during evaluation: {sorted(versions)}")
        truth = self.data.test_labels
        return max(versions), accuracy(truth, predicted), macro_f1(truth, predicted)

    def step(self, n: int) -> RoundResult:
        t_last_label = self.label_batch(n)
        refresh = self.wait_for_refresh(t_last_label)
        version, acc, f1 = self.evaluate()
        result = RoundResult(
            len(self.labeled), version, acc, f1, refresh.model_seconds, refresh.refresh_seconds
        )
        log(
            f"[{self.strategy}] labels={result.n_labels} v{version} acc={acc:.3f} f1={f1:.3f} "
            f"model={result.model_seconds:.2f}s refresh={result.refresh_seconds:.2f}s"
        )
        return result

    def run(self, stamp: str) -> None:
        self.create_project(stamp)
        self.import_pool()
        self.results.append(self.step(self.args.seed_size))  # before any model: random order
        for _ in range(self.args.rounds):
            self.results.append(self.step(self.args.batch))


# --- report --------------------------------------------------------------------------------------


def print_report(runs: dict[str, list[RoundResult]]) -> None:
    for strategy, results in runs.items():
        print(f"\n## {strategy}\n")
        header = f"{'labels':>7} {'model':>6} {'accuracy':>9} {'macro-F1':>9}"
        print(f"{header} {'train s':>8} {'refresh s':>10}")
        for r in results:
            print(
                f"{r.n_labels:>7} {'v' + str(r.model_version):>6} {r.accuracy:>9.3f} "
                f"{r.macro_f1:>9.3f} {r.model_seconds:>8.2f} {r.refresh_seconds:>10.2f}"
            )
    reference = "random" if "random" in runs else next(iter(runs))
    target = runs[reference][-1].accuracy
    print(f"\n## summary (reference: {reference}, final accuracy {target:.3f})\n")
    header = f"{'strategy':<12} {'final acc':>9} {'final F1':>9} {'labels to reach':>16}"
    print(f"{header} {'median refresh s':>17} {'max refresh s':>14}")
    for strategy, results in runs.items():
        reached = labels_to_reach(results, target)
        refresh = [r.refresh_seconds for r in results]
        print(
            f"{strategy:<12} {results[-1].accuracy:>9.3f} {results[-1].macro_f1:>9.3f} "
            f"{'not reached' if reached is None else reached:>16} "
            f"{statistics.median(refresh):>17.2f} {max(refresh):>14.2f}"
        )


# --- command line --------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Simulate an oracle annotator against a running labelloop server and print "
        "accuracy / macro-F1 per number of labels and the time to serve each new ranking."
    )
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="server base URL")
    parser.add_argument(
        "--token",
        default=os.environ.get("LABELLOOP_TOKEN"),
        help="admin API token (default: $LABELLOOP_TOKEN)",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help=f"folder with train.csv and test.csv (default: {DEFAULT_DATA} from the repo root)",
    )
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--label-column", default="category")
    parser.add_argument(
        "--strategies", default="margin,random", help="comma-separated query strategies"
    )
    parser.add_argument("--seed-size", type=int, default=25, help="labels before the first model")
    parser.add_argument("--rounds", type=int, default=20, help="rounds after the seed set")
    parser.add_argument("--batch", type=int, default=25, help="labels per round (batch_size)")
    parser.add_argument(
        "--test-size", type=int, default=None, help="test rows to score (default all)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for the test-set sample")
    parser.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        help="seconds to wait for each new model and ranking (default: 300)",
    )
    parser.add_argument("--poll-interval", type=float, default=0.05, help="seconds between polls")
    args = parser.parse_args(argv)
    args.strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    if args.data is None:
        args.data = (REPO_ROOT / DEFAULT_DATA).resolve()
    if not args.token:
        parser.error("no token: pass --token or set LABELLOOP_TOKEN")
    if not args.strategies:
        parser.error("--strategies is empty")
    if args.batch < 1 or args.rounds < 0 or args.test_size is not None and args.test_size < 1:
        parser.error("--batch and --test-size must be positive, --rounds non-negative")
    if args.seed_size < args.batch:
        # The server retrains after every `batch` new labels: a smaller seed set never trains.
        parser.error("--seed-size must be at least --batch (the server retrains every batch)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    runs: dict[str, list[RoundResult]] = {}
    status = 0
    api = Api(args.url, args.token)
    try:
        data = load_dataset(
            args.data, args.text_column, args.label_column, args.test_size, args.seed
        )
        log(
            f"{len(data.pool_texts)} pool rows, {len(data.test_texts)} test rows, "
            f"{len(data.labels)} labels from {args.data}"
        )
        for strategy in args.strategies:
            simulation = Simulation(api, data, args, strategy)
            runs[strategy] = simulation.results
            simulation.run(stamp)
    except SimulationError as exc:
        log(f"error: {exc}")
        status = 1
    except KeyboardInterrupt:
        log("interrupted")
        status = 130
    finally:
        api.close()
    runs = {strategy: results for strategy, results in runs.items() if results}
    if runs:
        if status:
            print("# PARTIAL RESULTS: the run stopped early (see the error above)")
        print_report(runs)
    return status


if __name__ == "__main__":
    sys.exit(main())
