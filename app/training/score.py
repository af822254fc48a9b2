"""Score the unlabelled pool with a run's model and order it: the ranking a run publishes.

The strategy scores come from a scoring backend (in-process, or a Dask cluster: `app.scaling`),
the ordering (diversity, warm-up, exploration) from `app.learning.ranking.rank_scores`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from app import scaling
from app.learning import oracle_trust
from app.learning import ranking as pool_ranking
from app.training import featurestore
from app.training.predictions import to_predictions
from app.training.snapshot import Snapshot


@dataclass(frozen=True)
class Ranking:
    item_ids: np.ndarray  # (m,) best first
    scores: np.ndarray  # (m,)
    predictions: list[dict[str, Any]]


def rank(
    snap: Snapshot,
    feats: featurestore.PoolFeatures,
    model: Any,
    X_labeled: Any,
    depth: int,
    warm_up: bool = False,
    backend: scaling.ScoringBackend = scaling.LOCAL,
    warm_up_basis: np.ndarray | None = None,
) -> Ranking:
    """Score the unlabelled pool with the project's strategy and order its top ``depth``.

    Batch diversity (the best item of each k-means cluster of the best candidates, or
    farthest-first away from labelled items), the warm-up (a batch of typical items while the
    project has few labels per class, ``warm_up``; ``warm_up_basis`` from ``warmup.basis``)
    and the exploration share come from the project's options; see ``app.learning.ranking``.
    """
    unlabeled = ~np.isin(feats.item_ids, snap.touched_ids())
    positions = np.flatnonzero(unlabeled)  # pool rows of the feature matrix
    pool = feats.item_ids[positions]
    if len(pool) == 0:
        return Ranking(pool, np.zeros(0), [])
    rng = np.random.default_rng([snap.random_seed, snap.label_events])
    # Score every row in place (chunks of the cached matrix, no copy of the pool), then keep
    # the unlabelled ones: labelled rows are a small share of any pool worth ranking.
    scores = backend.score(
        snap.strategy, model, feats.matrix, multi_label=snap.multi_label, rng=rng
    )[positions]
    X_pool = _Rows(feats.matrix, positions)
    if snap.votes:
        scores = _vote(scores, pool, X_pool, model, snap)
    options = snap.options
    near = options.diversity or warm_up  # the ordering needs the features
    order = pool_ranking.rank_scores(
        scores,
        depth=depth,
        rng=rng,
        features=X_pool if near else None,
        labeled_features=X_labeled if near else None,
        diversity=options.batch_diversity(),
        epsilon=options.epsilon,
        warm_up=options.batch_size if warm_up else 0,
        warm_up_basis=warm_up_basis,
    )
    proba = model.predict_proba(X_pool[order.indices])
    predictions = to_predictions(proba, snap.labels, multi_label=snap.multi_label)
    return Ranking(pool[order.indices], order.scores, predictions)


def cold_start(snap: Snapshot, feats: featurestore.PoolFeatures, depth: int) -> Ranking:
    """The representative items of the unlabelled pool, for before any model exists."""
    labeled_ids = snap.labeled_ids()
    pool = np.setdiff1d(snap.item_ids, snap.touched_ids())
    if len(pool) == 0:
        return Ranking(pool, np.zeros(0), [])
    rng = np.random.default_rng([snap.random_seed, snap.pool_version, len(labeled_ids)])
    order = pool_ranking.rank_pool(
        snap.strategy,
        None,
        depth=depth,
        rng=rng,
        features=feats.rows(pool),
        n_representatives=snap.options.cold_start_representatives(),
    )
    return Ranking(pool[order.indices], order.scores, [{}] * len(order.indices))


def _vote(scores: np.ndarray, pool: np.ndarray, X_pool: Any, model: Any, snap: Snapshot) -> Any:
    """The oracle's vote in the committee: items whose oracle answer differs from the model's
    guess rank above every other, in the strategy's order among themselves."""
    voted = np.flatnonzero(np.isin(pool, np.fromiter(snap.votes, dtype=np.int64)))
    if voted.size == 0 or snap.multi_label:
        return scores
    guesses = np.argmax(model.predict_proba(X_pool[voted]), axis=1)
    answers = np.array(
        [
            snap.labels.index(snap.votes[int(i)]) if snap.votes[int(i)] in snap.labels else -1
            for i in pool[voted]
        ]
    )
    return oracle_trust.first(scores, voted[(answers >= 0) & (answers != guesses)])


class _Rows:
    """Rows ``positions`` of ``matrix``, copied only when indexed (``rows[candidates]``)."""

    def __init__(self, matrix: Any, positions: np.ndarray) -> None:
        self.matrix, self.positions = matrix, positions
        self.shape = (positions.size, matrix.shape[1])

    def __getitem__(self, index: Any) -> Any:
        return self.matrix[self.positions[index]]
