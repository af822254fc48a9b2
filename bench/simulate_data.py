"""The dataset of `simulate.py` (train and test CSV files) and the metrics it is scored by."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class SimulationError(Exception):
    """A failure that ends the run with a message instead of a traceback."""


@dataclass(frozen=True)
class Dataset:
    pool_texts: list[str]  # train rows; the row index is the item's external id
    pool_labels: list[str]
    test_texts: list[str]
    test_labels: list[str]
    labels: list[str]  # the project's label set


# --- metrics -------------------------------------------------------------------------------------


def accuracy(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    """Fraction of exact matches."""
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def macro_f1(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    """Unweighted mean of per-label F1 over labels seen in y_true or y_pred (as scikit-learn)."""
    classes, codes = np.unique(np.concatenate([y_true, y_pred]), return_inverse=True)
    t, p = codes[: len(y_true)], codes[len(y_true) :]
    k = len(classes)
    tp = np.bincount(t[t == p], minlength=k)
    fp = np.bincount(p, minlength=k) - tp
    fn = np.bincount(t, minlength=k) - tp
    return float(np.mean(2 * tp / (2 * tp + fp + fn)))


# --- data ----------------------------------------------------------------------------------------


def read_column_pair(
    path: Path, text_column: str, label_column: str
) -> tuple[list[str], list[str]]:
    if not path.is_file():
        raise SimulationError(f"missing file: {path}")
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        missing = {text_column, label_column} - set(reader.fieldnames or [])
        if missing:
            raise SimulationError(
                f"{path}: no column(s) {sorted(missing)}; has {reader.fieldnames}"
            )
        rows = [(row[text_column], row[label_column]) for row in reader]
    return [t for t, _ in rows], [y for _, y in rows]


def load_dataset(
    data_dir: Path, text_column: str, label_column: str, test_size: int | None, seed: int
) -> Dataset:
    pool_texts, pool_labels = read_column_pair(data_dir / "train.csv", text_column, label_column)
    test_texts, test_labels = read_column_pair(data_dir / "test.csv", text_column, label_column)
    if test_size is not None and test_size < len(test_texts):
        keep = np.sort(
            np.random.default_rng(seed).choice(len(test_texts), test_size, replace=False)
        )
        test_texts = [test_texts[i] for i in keep]
        test_labels = [test_labels[i] for i in keep]
    labels = sorted(set(pool_labels))
    return Dataset(pool_texts, pool_labels, test_texts, test_labels, labels)


def pool_csv(texts: Sequence[str]) -> bytes:
    """The unlabelled pool as CSV (id,text), id = row index."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["id", "text"])
    writer.writerows((str(i), text) for i, text in enumerate(texts))
    return buf.getvalue().encode("utf-8")
