"""Suspicious labels: how many of the labels flipped at random in banking77 the ranking finds.

A 2,000-row random sample of banking77's train split (77 intents) stands for a project's
labels; 10 % of them are flipped at random to another intent. Features come from the product's
feature code (TF-IDF, MiniLM, or both), out-of-fold probabilities from the training run's own
cross-validation (`app.training.fit`: a fresh `LabelModel`, the default 5 folds), and the
ranking from `app.learning.label_issues` (cleanlab). Printed per seed and feature kind:
precision and recall of the top 100, and of the whole flagged set.

    .venv/bin/python bench/suspicious_labels.py --seeds 0,1,2 --features tfidf,minilm,both
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.config import Settings  # noqa: E402
from app.learning.embeddings import encode  # noqa: E402
from app.learning.estimators import LabelModel  # noqa: E402
from app.learning.features import TfidfFeaturizer, pool_features  # noqa: E402
from app.learning.label_issues import rank_label_issues  # noqa: E402
from app.learning.metrics import cross_validate  # noqa: E402

BANKING77 = ROOT.parent / "shared" / "data" / "banking77" / "train.csv"
TOP = 100


def load(path: Path) -> tuple[list[str], np.ndarray, int]:
    """banking77's texts, (n,) label indices and the number of labels."""
    with path.open(encoding="utf-8", newline="") as f:
        rows = [(r["text"], r["category"]) for r in csv.DictReader(f)]
    names = sorted({label for _, label in rows})
    index = {name: i for i, name in enumerate(names)}
    return [t for t, _ in rows], np.array([index[c] for _, c in rows]), len(names)


def flip(y: np.ndarray, n_labels: int, share: float, rng: np.random.Generator) -> np.ndarray:
    """The rows whose label `noisy` changes (in place) to another label, chosen at random."""
    flipped = rng.choice(y.size, int(round(share * y.size)), replace=False)
    y[flipped] = (y[flipped] + rng.integers(1, n_labels, flipped.size)) % n_labels
    return flipped


def features(kind: str, texts: list[str]) -> object:
    """The sample's features as a project of these items computes them."""
    tfidf = TfidfFeaturizer().fit_transform(texts) if kind in ("tfidf", "both") else None
    embedded = encode(texts) if kind in ("minilm", "both") else None
    return pool_features(kind, tfidf=tfidf, embeddings=embedded)


def measure(X: object, noisy: np.ndarray, flipped: np.ndarray, n_labels: int) -> dict[str, float]:
    """Precision/recall at TOP and of the flagged set; out-of-fold accuracy; seconds."""
    start = time.perf_counter()
    cv = cross_validate(X, noisy, lambda: LabelModel(n_labels), n_splits=Settings().cv_folds)
    assert cv is not None
    cv_seconds = time.perf_counter() - start
    found = rank_label_issues(cv.proba, noisy)
    rank_seconds = time.perf_counter() - start - cv_seconds
    is_flipped = np.isin(found.indices, flipped)
    hits_top = int(is_flipped[:TOP].sum())
    return {
        "flagged": found.indices.size,
        "p@100": hits_top / TOP,
        "r@100": hits_top / flipped.size,
        "p_all": float(is_flipped.mean()) if found.indices.size else 0.0,
        "r_all": int(is_flipped.sum()) / flipped.size,
        "cv_acc": cv.metrics["accuracy"],
        "cv_s": cv_seconds,
        "rank_s": rank_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--features", default="tfidf,minilm,both")
    parser.add_argument("--sample", type=int, default=2000)
    parser.add_argument("--noise", type=float, default=0.10)
    args = parser.parse_args()
    texts, labels, n_labels = load(BANKING77)
    columns = ["flagged", "p@100", "r@100", "p_all", "r_all", "cv_acc", "cv_s", "rank_s"]
    print(f"| seed | features | {' | '.join(columns)} |")
    print("|---" * (len(columns) + 2) + "|")
    results: dict[str, list[dict[str, float]]] = {}
    for seed in [int(s) for s in args.seeds.split(",")]:
        rng = np.random.default_rng(seed)
        rows = rng.choice(labels.size, args.sample, replace=False)
        noisy = labels[rows].copy()
        flipped = flip(noisy, n_labels, args.noise, rng)
        sample_texts = [texts[i] for i in rows]
        for kind in args.features.split(","):
            result = measure(features(kind, sample_texts), noisy, flipped, n_labels)
            results.setdefault(kind, []).append(result)
            print(f"| {seed} | {kind} | {_cells(result, columns)} |", flush=True)
    for kind, runs in results.items():
        mean = {c: float(np.mean([r[c] for r in runs])) for c in columns}
        print(f"| mean of {len(runs)} | {kind} | {_cells(mean, columns)} |")


def _cells(result: dict[str, float], columns: list[str]) -> str:
    return " | ".join(f"{result[c]:.0f}" if c == "flagged" else f"{result[c]:.2f}" for c in columns)


if __name__ == "__main__":
    main()
