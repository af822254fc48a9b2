"""Honest accuracy on banking77: does the audit sample's 95 % interval hold the test accuracy?

Per seed: a uniformly random audit sample is drawn from the pool and taken out of it (never
trained on, never ranked); a simulated annotator labels the rest with the default recipe
(`bench/label_efficiency.py`); the final model is measured on the audit sample
(`app.learning.audit`), on the held-out test file and by cross-validation on its own labels.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO_ROOT))

from efficiency_features import (  # noqa: E402  (bench/ is the script's folder)
    EmbeddingCache,
    Features,
    build_features,
)
from efficiency_recipes import Spec  # noqa: E402
from label_efficiency import BATCH, SEED_SIZE, _init_worker, simulate  # noqa: E402

from app.learning.audit import AuditMetrics, audit_metrics  # noqa: E402
from app.learning.estimators import LabelModel  # noqa: E402
from app.learning.metrics import cross_validated_metrics  # noqa: E402
from app.learning.options import DEFAULT_OPTIONS  # noqa: E402
from bench.datasets import load_banking77, log  # noqa: E402

CV_FOLDS = 5  # app.config.Settings.cv_folds' default


@dataclass(frozen=True)
class Row:
    seed: int
    n_train: int
    audit: AuditMetrics
    test_accuracy: float
    test_macro_f1: float
    cv_accuracy: float
    cv_macro_f1: float

    @property
    def covered(self) -> bool:
        return self.audit.accuracy_low <= self.test_accuracy <= self.audit.accuracy_high

    @property
    def f1_covered(self) -> bool:
        return self.audit.macro_f1_low <= self.test_macro_f1 <= self.audit.macro_f1_high


_STATE: dict[str, object] = {}


def split_sizes(labels: int, share: float) -> tuple[int, int]:
    """(rounds of the queue, audit labels): the queue's labels are the seed set plus whole
    batches, about (1 - share) of ``labels``; the audit sample is the rest (at least one)."""
    rounds = min(
        round((labels * (1 - share) - SEED_SIZE) / BATCH), (labels - SEED_SIZE - 1) // BATCH
    )
    return rounds, labels - SEED_SIZE - rounds * BATCH


def run_seed(seed: int) -> Row:
    data, feats, args = _STATE["data"], _STATE["features"], _STATE["args"]
    rounds, n_audit = split_sizes(args.labels, args.audit_share)
    rng = np.random.default_rng([seed, 7])
    audit = np.sort(rng.choice(len(data.train_texts), n_audit, replace=False))
    keep = np.setdiff1d(np.arange(len(data.train_texts)), audit)
    pool = replace(
        data, train_texts=[data.train_texts[i] for i in keep], train_y=data.train_y[keep]
    )
    curve = simulate(
        pool, Features(feats.train[keep], feats.test), SPEC, seed, replace_rounds(args, rounds)
    )
    labelled = curve.labelled
    X, y = feats.train[keep][labelled], pool.train_y[labelled]
    found = audit_metrics(data.train_y[audit], curve.model.predict(feats.train[audit]), seed=seed)
    cv = cross_validated_metrics(
        X, y, lambda: LabelModel(len(data.labels), C=args.C), n_splits=CV_FOLDS
    )
    assert found is not None and cv is not None
    return Row(seed, len(labelled), found, curve.accuracy[-1], curve.macro_f1[-1], *cv.values())


def replace_rounds(args: argparse.Namespace, rounds: int) -> argparse.Namespace:
    return argparse.Namespace(**{**vars(args), "rounds": rounds})


SPEC = Spec.of("default", DEFAULT_OPTIONS)


def run_all(args: argparse.Namespace) -> list[Row]:
    import multiprocessing as mp

    data = load_banking77(args.cache_dir)
    cache = EmbeddingCache(args.cache_dir, args.threads)
    features = build_features(data, {SPEC.features}, cache)[SPEC.features]
    _STATE.update(data=data, features=features, args=args)
    rows: list[Row] = []
    start = time.perf_counter()
    with mp.get_context("fork").Pool(args.jobs, initializer=_init_worker) as workers:
        for row in workers.imap_unordered(run_seed, args.seeds):
            rows.append(row)
            log(
                f"[{len(rows)}/{len(args.seeds)} {time.perf_counter() - start:.0f}s] seed "
                f"{row.seed}: audit {row.audit.accuracy:.3f} test {row.test_accuracy:.3f}"
            )
    return sorted(rows, key=lambda r: r.seed)


def print_report(rows: list[Row], args: argparse.Namespace) -> None:
    rounds, n_audit = split_sizes(args.labels, args.audit_share)
    print(
        f"banking77, recipe default ({SPEC.strategy}, {SPEC.diversity_method} batches, "
        f"warm-up {SPEC.warm_up:g}/class, k-means seeds, {SPEC.features}), "
        f"{args.labels} labels = {SEED_SIZE + rounds * BATCH} queue + {n_audit} audit"
    )
    print(
        "| seed | audit accuracy [95 % Wilson] | audit macro-F1 [95 % bootstrap] "
        "| test accuracy | test macro-F1 | CV accuracy | CV macro-F1 | test in interval (acc, F1) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        a = r.audit
        print(
            f"| {r.seed} | {a.accuracy:.3f} [{a.accuracy_low:.3f}, {a.accuracy_high:.3f}] "
            f"| {a.macro_f1:.3f} [{a.macro_f1_low:.3f}, {a.macro_f1_high:.3f}] "
            f"| {r.test_accuracy:.3f} | {r.test_macro_f1:.3f} | {r.cv_accuracy:.3f} "
            f"| {r.cv_macro_f1:.3f} | {_yes(r.covered)}, {_yes(r.f1_covered)} |"
        )
    covered = f"{sum(r.covered for r in rows)}/{len(rows)}, {sum(r.f1_covered for r in rows)}"
    print(
        f"| mean | {np.mean([r.audit.accuracy for r in rows]):.3f} "
        f"| {np.mean([r.audit.macro_f1 for r in rows]):.3f} "
        f"| {np.mean([r.test_accuracy for r in rows]):.3f} "
        f"| {np.mean([r.test_macro_f1 for r in rows]):.3f} "
        f"| {np.mean([r.cv_accuracy for r in rows]):.3f} "
        f"| {np.mean([r.cv_macro_f1 for r in rows]):.3f} | {covered}/{len(rows)} |"
    )


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2,3,4,5,6,7,8,9", help="comma-separated seeds")
    parser.add_argument("--labels", type=int, default=525, help="labels in all, audit included")
    parser.add_argument("--audit-share", type=float, default=DEFAULT_OPTIONS.audit_share)
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--committee", type=int, default=5, help="committee members")
    parser.add_argument("--C", type=float, default=10.0, help="inverse regularisation")
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime threads")
    parser.add_argument("--cache-dir", type=Path, default=REPO_ROOT / "var" / "bench-cache")
    args = parser.parse_args(argv)
    args.seeds = [int(s) for s in args.seeds.split(",") if s]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    print_report(run_all(args), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
