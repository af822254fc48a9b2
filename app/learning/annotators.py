"""Per-annotator figures: agreement with the others' majority and with the model, and pace.

Pace is read from label timestamps alone. A label's *time* is the gap since the same
annotator's previous label when that gap is at most ``IDLE_SECONDS``; a longer gap is a break
and counts for nothing. Labels per hour = labels with a time / the sum of those times.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.learning.agreement import MISSING

IDLE_SECONDS = 600.0
# Less labelling time than this is no rate: labels sent in bulk (a script, an import of a
# pre-labeller) arrive milliseconds apart and would read as millions an hour.
MIN_BUSY_SECONDS = 60.0


@dataclass(frozen=True)
class Share:
    """The share of ``n`` decisions that matched (None when ``n`` is 0)."""

    value: float | None
    n: int


@dataclass(frozen=True)
class Pace:
    labels_per_hour: float | None
    median_seconds: float | None  # between consecutive labels, breaks included


def others_majority(codes: np.ndarray, rater: int, n_categories: int) -> np.ndarray:
    """Per unit, the category most of the *other* raters chose, when one is strictly ahead.

    Args:
        codes: shape (n_units, n_raters) category indices, ``MISSING`` where unrated.
        rater: the column left out.
        n_categories: C.

    Returns:
        shape (n_units,) the category, ``MISSING`` where no other rater labelled or on a tie.
    """
    others = np.delete(codes, rater, axis=1)
    counts = np.stack([(others == c).sum(axis=1) for c in range(n_categories)], axis=1)
    top = counts.max(axis=1)
    unique = (counts == top[:, None]).sum(axis=1) == 1
    return np.where((top > 0) & unique, counts.argmax(axis=1), MISSING)


def matches(mine: np.ndarray, reference: np.ndarray) -> Share:
    """How often ``mine`` equals ``reference`` where both are given.

    Args:
        mine, reference: shape (n_units,) category indices or ``MISSING``.
    """
    both = (mine != MISSING) & (reference != MISSING)
    n = int(both.sum())
    return Share(float(np.mean(mine[both] == reference[both])) if n else None, n)


def consensus_agreement(codes: np.ndarray, n_categories: int) -> list[Share]:
    """Per rater (column of ``codes``, shape (n_units, n_raters)): agreement with the others'
    strict majority, over the units where the rater labelled and such a majority exists."""
    return [
        matches(codes[:, r], others_majority(codes, r, n_categories)) for r in range(codes.shape[1])
    ]


def pace(seconds: np.ndarray, idle: float = IDLE_SECONDS) -> Pace:
    """Labels per hour and the median gap of one annotator.

    Args:
        seconds: shape (n,) the times of the annotator's labels, in seconds, any order.
        idle: gaps longer than this are breaks, left out of the labels per hour.
    """
    gaps = np.diff(np.sort(np.asarray(seconds, dtype=float)))
    if gaps.size == 0:
        return Pace(None, None)
    active = gaps[gaps <= idle]
    busy = float(active.sum())
    per_hour = active.size * 3600.0 / busy if busy >= MIN_BUSY_SECONDS else None
    return Pace(per_hour, float(np.median(gaps)))
