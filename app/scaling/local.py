"""The in-process backend: today's code path, `score_pool` chunk by chunk in this process."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from app.learning.committee import Committee
from app.learning.embeddings import encode
from app.learning.estimators import LabelModel
from app.learning.ranking import SCORE_CHUNK_ROWS, score_pool
from app.scaling.storedpool import StoredPool
from app.scaling.tasks import Chunk, Source, chunks


def as_views(X: Source | Sequence[Source]) -> list[Source]:
    """The feature views of a pool: one matrix (or stored pool), or a Committee's list."""
    return list(X) if isinstance(X, list | tuple) else [X]


def scored_rows(views: list[Source], rows: np.ndarray | None) -> int:
    """How many rows a score call returns: the selection's size, else the pool's."""
    return int(views[0].shape[0]) if rows is None else int(len(rows))


class LocalBackend:
    """Scores and embeds in the calling process (the default; no cluster needed)."""

    name = "local"

    def score(
        self,
        strategy: str,
        model: LabelModel | Committee,
        X: Source | Sequence[Source],
        *,
        multi_label: bool = False,
        rng: np.random.Generator,
        rows: np.ndarray | None = None,
        chunk_rows: int = SCORE_CHUNK_ROWS,
    ) -> np.ndarray:
        """Strategy scores of the pool, exactly as `app.learning.ranking.score_pool`.

        Args:
            strategy, model, multi_label, rng, chunk_rows: as in `score_pool`.
            X: pool features (n, d), or a Committee's list of views; each in memory or a
                `StoredPool` (read chunk by chunk, never whole).
            rows: (m,) positions of the rows to score, None for all n.

        Returns:
            float64 (m,) scores (m = n without ``rows``).
        """
        views = as_views(X)
        if rows is None and not any(isinstance(v, StoredPool) for v in views):
            return score_pool(
                strategy, model, X, multi_label=multi_label, rng=rng, chunk_rows=chunk_rows
            )
        n = scored_rows(views, rows)
        parts = chunks(n, chunk_rows, rows) or [Chunk(0, 0, rows)]
        out = np.empty(n, dtype=np.float64)
        for chunk in parts:  # one generator through every chunk, as score_pool does
            data = [chunk.read(v) for v in views]
            out[chunk.start : chunk.stop] = score_pool(
                strategy,
                model,
                data if len(data) > 1 else data[0],
                multi_label=multi_label,
                rng=rng,
                chunk_rows=chunk_rows,
            )
        return out

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """MiniLM embeddings with the process's shared encoder, float32 (n, 384) unit rows."""
        return encode(texts)
