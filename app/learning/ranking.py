"""The published ranking: score the pool with a strategy, then order it (density, diversity, ε).

Two stages: `score_pool` scores a large pool chunk by chunk (the training worker calls it
through `app.scaling`, which may run the chunks on a cluster), then `rank_scores` orders the
scores. `rank_pool` does both in memory (cold start, benchmarks); a project's choices are
`app.learning.options.QueryOptions`.
"""

import functools
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from app.learning import strategies
from app.learning.coldstart import (
    IMBALANCE_P_VALUE,
    exploration_positions,
    looks_imbalanced,
    representative_items,
    typical_items,
)
from app.learning.committee import Committee
from app.learning.diversity import (
    best_per_cluster,
    density_weighted,
    farthest_first,
    gradient_norms,
    information_density,
)
from app.learning.estimators import LabelModel, Matrix
from app.learning.options import DIVERSITY_METHODS
from app.learning.qbc import kl_of, vote_entropy_of

SCORE_CHUNK_ROWS = 16_384


class Ranking(NamedTuple):
    """Pool rows best first, shape (D,) intp, and the score of each, shape (D,) float64.

    With diversity or exploration the scores are not monotone: the order is the ranking.
    """

    indices: np.ndarray
    scores: np.ndarray


@dataclass(frozen=True)
class Diversity:
    """Batch-mode diversity over the first `batch` positions of the ranking.

    They are picked among the `candidates * batch` best-scored items, either one per k-means
    cluster of those candidates (the best of each, "cluster") or greedy k-center away from each
    other and the labelled items ("farthest_first"); the rest of the ranking follows by score.
    """

    batch: int = 25
    candidates: int = 10
    method: str = "cluster"

    def __post_init__(self) -> None:
        if self.batch < 1 or self.candidates < 1:
            raise ValueError("diversity batch and candidates must be >= 1")
        if self.method not in DIVERSITY_METHODS:
            raise ValueError(f"diversity method must be one of {DIVERSITY_METHODS}")


def in_warm_up(
    strategy: str,
    n_labeled: int,
    n_labels: int,
    per_label: float,
    counts: np.ndarray | None = None,
    p_value: float = IMBALANCE_P_VALUE,
) -> bool:
    """Whether the next batch is a warm-up batch of typical items rather than the strategy's.

    While the project has fewer than `per_label` labels per class, a model's uncertainty says
    little and covering the pool finds the classes sooner (bench/README.md). `random` is the
    no-active-learning baseline: it never warms up. Given the labels' `counts` per class, the
    warm-up also ends as soon as they show the classes are imbalanced
    (`coldstart.looks_imbalanced`) and either a class has no label yet or the biggest already
    has its `per_label`: typical items follow the pool's density, so from then on they would
    keep finding the big classes while uncertainty is what finds the rare ones. With every
    class seen and none at its share (a few classes, e.g. a seed set of 18, 1 and 6 labels)
    the warm-up goes on: its next batches still cover the pool (bench/README.md, "The exit
    waits while every class is seen").
    """
    if strategy == "random" or n_labeled >= per_label * n_labels:
        return False
    if counts is None or not looks_imbalanced(counts, p_value):
        return True
    return not (counts.min() == 0 or counts.max() >= per_label)


def rank_pool(
    strategy: str,
    proba: np.ndarray | None,
    *,
    depth: int,
    rng: np.random.Generator,
    committee: np.ndarray | None = None,
    features: Matrix | None = None,
    labeled_features: Matrix | None = None,
    multi_label: bool = False,
    diversity: Diversity | None = None,
    density_power: float = 0.0,
    epsilon: float = 0.0,
    n_representatives: int = 25,
    warm_up: int = 0,
) -> Ranking:
    """Rank the unlabelled pool for annotation: `strategies.score`, then `rank_scores`.

    Args:
        strategy: a name from `strategies.strategy_names()`.
        proba: (n, k) current model's probabilities on the pool (a committee's consensus
            mean for committee strategies), or None before any model: cold start.
        depth: ranking length D (capped at n).
        rng: randomness ("random" strategy, exploration, k-means); seed it for repeatability.
        committee: (m, n, k) members' probabilities, required by committee strategies.
        features: (n, d) pool features: for diversity, density, warm-up, cold start, EGL's norms.
        labeled_features: (L, d) features of labelled items; farthest-first diversity and the
            warm-up keep away from them.
        multi_label: whether proba columns are independent per-label probabilities.
        diversity: batch mode over the first positions; None for plain score order.
        density_power: beta of information-density weighting; 0 for none.
        epsilon: share of every batch given to uniformly random pool items.
        n_representatives: cold start: how many k-means representatives lead the ranking.
        warm_up: how many typical items (TypiClust) lead the ranking; 0 for none.

    Returns:
        Ranking of D distinct pool rows. Cold start: representatives score 1.0, then random
        items scoring 0.0.

    Raises:
        EmptyPoolError, MissingInputError (no committee), ValueError (features missing).
    """
    if proba is None:
        return _cold_start(features, depth, rng, n_representatives)
    with_norms = features is not None and strategies.uses_norms(strategy)
    norms = gradient_norms(features) if with_norms else None
    scores = strategies.score(
        strategy, proba, multi_label=multi_label, rng=rng, committee=committee, norms=norms
    )
    return rank_scores(
        scores,
        depth=depth,
        rng=rng,
        features=features,
        labeled_features=labeled_features,
        diversity=diversity,
        density_power=density_power,
        epsilon=epsilon,
        warm_up=warm_up,
    )


def rank_scores(
    scores: np.ndarray,
    *,
    depth: int,
    rng: np.random.Generator,
    features: Matrix | None = None,
    labeled_features: Matrix | None = None,
    diversity: Diversity | None = None,
    density_power: float = 0.0,
    epsilon: float = 0.0,
    warm_up: int = 0,
    warm_up_basis: np.ndarray | None = None,
) -> Ranking:
    """The ordering stage of `rank_pool`, for scores computed elsewhere (e.g. `score_pool`).

    Args:
        scores: (n,) finite strategy scores, higher = more informative.
        depth, rng, features, labeled_features, diversity, density_power, epsilon, warm_up:
            as in `rank_pool`.
        warm_up_basis: (d, c) SVD basis of sparse pool features for the warm-up's clustering
            (`coldstart.svd_basis`, kept between calls by the caller); None fits one.

    Returns:
        Ranking of min(depth, n) distinct rows.
    """
    scores = strategies._check_scores(scores)
    if (diversity is not None or density_power > 0 or warm_up > 0) and features is None:
        raise ValueError("diversity, density weighting and warm-up need the pool features")
    if features is not None and features.shape[0] != scores.shape[0]:
        raise ValueError(f"features have {features.shape[0]} rows for {scores.shape[0]} scores")
    if density_power > 0:
        scores = density_weighted(scores, information_density(features), density_power)
    depth = min(depth, scores.shape[0])
    slots = exploration_positions(depth, epsilon)
    if warm_up > 0:
        count, labeled = depth - slots.size, labeled_features
        order = _typical_first(scores, count, features, labeled, warm_up, rng, warm_up_basis)
    else:
        order = _ordered(scores, depth - slots.size, features, labeled_features, diversity, rng)
    order = _with_exploration(order, slots, scores.shape[0], depth, rng)
    return Ranking(order, scores[order])


def score_pool(
    strategy: str,
    model: LabelModel | Committee,
    X: Matrix | list[Matrix],
    *,
    multi_label: bool = False,
    rng: np.random.Generator,
    chunk_rows: int = SCORE_CHUNK_ROWS,
) -> np.ndarray:
    """Predict and score a large pool chunk by chunk, never holding (m, n, k) at once.

    Args:
        strategy: a registered name; committee strategies need `model` to be a Committee.
        model: fitted LabelModel or Committee (a Committee scores its consensus for
            single-model strategies).
        X: pool features (n, d), or the Committee's list of views.
        multi_label, rng: as in `strategies.score`.
        chunk_rows: rows per chunk.

    Returns:
        float64 (n,) scores.
    """
    views = list(X) if isinstance(X, list | tuple) else [X]
    n = views[0].shape[0]
    if strategies.needs_committee(strategy) and not isinstance(model, Committee):
        raise strategies.MissingInputError(f"strategy {strategy!r} needs a Committee model")
    out = np.empty(n, dtype=np.float64)

    def run(start: int) -> None:
        chunk = [v[start : start + chunk_rows] for v in views]
        out[start : start + chunk_rows] = _score_chunk(strategy, model, chunk, multi_label, rng)

    starts = range(0, max(n, 1), chunk_rows)
    threads = _scoring_threads()
    if strategy == "random" or len(starts) == 1 or threads == 1:  # random: rng in chunk order
        for start in starts:
            run(start)
    else:  # one BLAS thread per chunk thread: more oversubscribe the cores (bench/README.md)
        # The limit is process-wide: one scoring at a time sets and restores it.
        with _BLAS_LIMIT, threadpool_limits(limits=1, user_api="blas"):
            list(_pool(threads, os.getpid()).map(run, starts))
    return out


_BLAS_LIMIT = threading.Lock()


def _scoring_threads() -> int:
    """Threads that score chunks: as many as the BLAS pool has (all cores unless capped, as
    `labelloop worker` caps it with `worker_threads` to leave the CPU to the web processes)."""
    blas = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    return max(1, min(blas)) if blas else os.cpu_count() or 1


@functools.cache
def _pool(threads: int, pid: int) -> ThreadPoolExecutor:
    """Chunks are scored in parallel: BLAS and numpy's array loops release the GIL.

    One pool per process id: a forked child (a worker, a Dask nanny's process) inherits the
    parent's pool object but none of its threads.
    """
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="score")


def _score_chunk(
    strategy: str,
    model: LabelModel | Committee,
    views: list[Matrix],
    multi_label: bool,
    rng: np.random.Generator,
) -> np.ndarray:
    if strategy == "random":  # needs no prediction, only the row count
        rows = views[0].shape[0]
        return strategies.score(strategy, np.zeros((rows, 1)), multi_label=multi_label, rng=rng)
    committee = None
    if isinstance(model, Committee) and strategy in _STATS_MEASURES and not multi_label:
        return _STATS_MEASURES[strategy](model.member_stats(views))
    if isinstance(model, Committee):
        committee = model.predict_proba_members(views)
        proba = committee.mean(axis=0)
    else:
        proba = model.rows_proba(views[0])  # the finite check alone: ~0.2 s per 1M rows
    norms = gradient_norms(views[0]) if strategies.uses_norms(strategy) else None
    return strategies.score(
        strategy, proba, multi_label=multi_label, rng=rng, committee=committee, norms=norms
    )


# Committee strategies computed from `Committee.member_stats` (the same numbers as the
# registered functions on (m, n, k) probabilities, without materialising them).
_STATS_MEASURES = {"qbc_vote_entropy": vote_entropy_of, "qbc_kl": kl_of}


def _ordered(
    scores: np.ndarray,
    count: int,
    features: Matrix | None,
    labeled: Matrix | None,
    diversity: Diversity | None,
    rng: np.random.Generator,
) -> np.ndarray:
    """The `count` best rows by score, the first `diversity.batch` of them diversified."""
    if diversity is None or count <= 1:
        return strategies.select_top_k(scores, count)
    if features is None:
        raise ValueError("diversity needs the pool features")
    pool = strategies.select_top_k(scores, max(count, diversity.batch * diversity.candidates))
    candidates = pool[: diversity.batch * diversity.candidates]
    if diversity.method == "cluster":
        picked = best_per_cluster(features[candidates], diversity.batch, rng=rng)
    else:
        picked = farthest_first(features[candidates], diversity.batch, labeled=labeled)
    return _head_then(candidates[picked], pool, count)


def _typical_first(
    scores: np.ndarray,
    count: int,
    features: Matrix,
    labeled: Matrix | None,
    warm_up: int,
    rng: np.random.Generator,
    basis: np.ndarray | None = None,
) -> np.ndarray:
    """The `count` first rows: `warm_up` typical items, then the best-scored of the rest."""
    head = typical_items(features, labeled, min(warm_up, count), rng=rng, basis=basis)
    return _head_then(head, strategies.select_top_k(scores, count + head.size), count)


def _head_then(head: np.ndarray, pool: np.ndarray, count: int) -> np.ndarray:
    """`head`, then the rows of `pool` (best first) not in it: `count` rows in all."""
    return np.concatenate([head, pool[~np.isin(pool, head)]])[:count]


def _with_exploration(
    order: np.ndarray, slots: np.ndarray, n: int, depth: int, rng: np.random.Generator
) -> np.ndarray:
    """Place uniformly random rows (not already in `order`) at the exploration `slots`."""
    if slots.size == 0:
        return order
    taken = np.zeros(n, dtype=bool)
    taken[order] = True
    picks = rng.choice(np.flatnonzero(~taken), slots.size, replace=False)
    ranking = np.empty(depth, dtype=np.intp)
    keep = np.ones(depth, dtype=bool)
    keep[slots] = False
    ranking[slots], ranking[keep] = picks, order
    return ranking


def _cold_start(
    features: Matrix | None, depth: int, rng: np.random.Generator, n_representatives: int
) -> Ranking:
    """Representatives (if features are given) first, then random items."""
    if features is None:
        raise ValueError("a ranking without a model needs the pool features")
    n = features.shape[0]
    if n == 0:
        raise strategies.EmptyPoolError("the pool is empty: there are no items to rank")
    depth = min(depth, n)
    head = representative_items(features, min(n_representatives, depth), rng=rng)
    rest = rng.permutation(np.setdiff1d(np.arange(n), head))[: depth - head.size]
    scores = np.concatenate([np.ones(head.size), np.zeros(rest.size)])
    return Ranking(np.concatenate([head, rest]).astype(np.intp), scores)
