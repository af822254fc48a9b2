"""Where the per-item heavy work runs: scoring the pool and embedding texts.

`backend_for(None)` is the in-process path (`score_pool` chunk by chunk); `backend_for(address)`
sends the same chunks to a Dask cluster (``LABELLOOP_DASK_SCHEDULER``) with the same results.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from app.learning.committee import Committee
from app.learning.estimators import LabelModel
from app.learning.ranking import SCORE_CHUNK_ROWS
from app.scaling.local import LocalBackend
from app.scaling.storedpool import StoredPool
from app.scaling.tasks import Source

__all__ = ["LOCAL", "LocalBackend", "ScoringBackend", "StoredPool", "backend_for"]


class ScoringBackend(Protocol):
    """Scores a pool and embeds texts; every backend returns what `LocalBackend` returns."""

    name: str

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
        """float64 (m,) strategy scores of the pool (or of its ``rows``)."""
        ...

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """float32 (n, 384) MiniLM embeddings of ``texts``."""
        ...


LOCAL = LocalBackend()
_backends: dict[str, ScoringBackend] = {}
_backends_lock = threading.Lock()


def backend_for(address: str | None) -> ScoringBackend:
    """The backend for a Dask scheduler address (one per address and process), or LOCAL.

    Args:
        address: ``tcp://host:8786`` (the ``LABELLOOP_DASK_SCHEDULER`` setting); None or ""
            for the in-process path.
    """
    if not address:
        return LOCAL
    with _backends_lock:
        if address not in _backends:
            from app.scaling.dask_backend import DaskBackend

            _backends[address] = DaskBackend(address)
        return _backends[address]
