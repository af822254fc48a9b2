"""Variants of the benchmark sets: pools subsampled to a Zipf profile, and a many-class union.

Real label sets have a long tail: a few common classes and many rare ones, which is where typical-
item warm-ups and margin sampling under-sample. A variant keeps every class of a set, orders the
classes by a seeded permutation (which classes are rare is drawn, not the file's order) and keeps
``top * (rank + 1) ** -s`` of the rank's items, where ``s = ln(ratio) / ln(K)`` makes the largest
class ``ratio`` times the smallest. ``top`` is as large as every class can supply, so the pool
shrinks (banking77: ~130 items a class become about 1,300 in all). The test set is left as it
is, so accuracy and macro-F1 still weigh every class.
"""

from __future__ import annotations

import numpy as np

ZIPF_RATIO = 50.0  # largest class / smallest class in a variant


def zipf_sizes(counts: np.ndarray, ratio: float) -> np.ndarray:
    """How many items each rank keeps: (K,) sizes for classes ranked 0..K-1 with ``counts``.

    Args:
        counts: (K,) items available per class, in rank order (rank 0 becomes the largest).
        ratio: wanted size of rank 0 over size of rank K-1 (>= 1).

    Returns:
        int64 (K,) sizes, each >= 1 and <= its count, non-increasing, first / last ~= ratio.
    """
    k = counts.size
    if k < 2 or ratio <= 1.0:
        return counts.astype(np.int64)
    exponent = np.log(ratio) / np.log(k)
    shape = np.arange(1, k + 1, dtype=np.float64) ** -exponent
    top = float(np.min(counts / shape))  # the largest top every class can supply
    return np.maximum(np.rint(top * shape), 1).astype(np.int64)  # rint <= count: see top


def zipf_keep(y: np.ndarray, ratio: float = ZIPF_RATIO, seed: int = 0) -> np.ndarray:
    """Indices of ``y`` (class ids) to keep for a Zipf profile of class sizes, sorted.

    Args:
        y: (n,) class index of each pool item.
        ratio: largest over smallest class size.
        seed: draws the class ranking and the items kept within each class.

    Returns:
        int64 sorted indices into ``y``; every class present in ``y`` keeps at least one item.
    """
    rng = np.random.default_rng(seed)
    classes = rng.permutation(np.unique(y))
    members = [np.flatnonzero(y == c) for c in classes]
    sizes = zipf_sizes(np.array([m.size for m in members]), ratio)
    kept = [rng.choice(m, size, replace=False) for m, size in zip(members, sizes, strict=True)]
    return np.sort(np.concatenate(kept)).astype(np.int64)


MANY_CLASS_POOL = 100  # pool items kept per class of the many-class union
MANY_CLASS_TEST = 40  # test items kept per class


def capped(y: np.ndarray, cap: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of ``y`` keeping at most ``cap`` items of each class (a seeded draw)."""
    rng = np.random.default_rng(seed)
    kept = [
        rng.choice(members, min(cap, members.size), replace=False)
        for members in (np.flatnonzero(y == c) for c in np.unique(y))
    ]
    return np.sort(np.concatenate(kept)).astype(np.int64)
