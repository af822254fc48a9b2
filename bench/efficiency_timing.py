"""Seconds to score and rank a big pool with each recipe, on random unit vectors."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from efficiency_recipes import Spec


def time_scoring(specs: list[Spec], sizes: list[int], n_labels: int) -> None:
    """Seconds to rank n pool items from cached (n, 384) float32 features: predict + score +
    rank (depth 20,000; diversity batch 50 over 500 candidates, or a warm-up batch of 50 with
    525 labelled items, where the recipe asks for it)."""
    from app.learning.committee import Committee
    from app.learning.estimators import LabelModel
    from app.learning.ranking import Diversity
    from app.learning.strategies import needs_committee

    rng = np.random.default_rng(0)
    train_X = _unit(rng.normal(size=(525, 384)).astype(np.float32))
    train_y = rng.integers(0, n_labels, 525)
    model = LabelModel(n_labels).fit(train_X, train_y)
    committee = Committee(n_labels, n_members=5).fit(train_X, train_y)
    print(
        f"\n### scoring time: seconds for a pool of n items, 384-d float32 features, "
        f"{n_labels} labels, ranking depth 20,000, best of 3 (2 shared cores)"
    )
    print("| recipe | n | predict + score + rank | score + rank (proba given) |")
    print("|---|---|---|---|")
    for n in sizes:
        X = _unit(rng.normal(size=(n, 384)).astype(np.float32))
        proba = model.predict_proba(X[:100_000])
        proba = np.tile(proba, (n // proba.shape[0] + 1, 1))[:n]
        for spec in specs:
            is_committee = needs_committee(spec.strategy)
            diversity = Diversity(50, 10, spec.diversity_method) if spec.diversity else None
            kwargs = dict(
                depth=20_000,
                rng=rng,
                features=X,
                diversity=diversity,
                density_power=spec.density,
                epsilon=spec.epsilon,
                labeled_features=train_X if spec.warm_up else None,
                warm_up=50 if spec.warm_up else 0,
            )
            scorer = committee if is_committee else model
            full, given = _time_recipe(
                spec.strategy, scorer, X, None if is_committee else proba, kwargs
            )
            print(f"| {spec.text} | {n:,} | {full:.2f} | {given} |", flush=True)
        del X, proba


def _time_recipe(
    strategy: str, scorer: object, X: np.ndarray, proba: np.ndarray | None, kwargs: dict
) -> tuple[float, str]:
    """(predict + score + rank seconds, score + rank seconds or "-" without proba)."""
    from app.learning.ranking import rank_scores, score_pool
    from app.learning.strategies import score

    rng = kwargs["rng"]
    full = _best_of(lambda: rank_scores(score_pool(strategy, scorer, X, rng=rng), **kwargs))
    if proba is None:
        return full, "-"
    given = _best_of(lambda: rank_scores(score(strategy, proba, rng=rng), **kwargs))
    return full, f"{given:.2f}"


def _best_of(run: Callable[[], object], repeats: int = 3) -> float:
    """Least wall-clock seconds of `repeats` calls (the machine is shared: noise only adds)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def _unit(X: np.ndarray) -> np.ndarray:
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X
