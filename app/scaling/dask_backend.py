"""The Dask backend: the pool's chunks are scored, and texts embedded, on a Dask cluster.

The fitted model is broadcast to every worker once per call; each task scores one chunk with
the same code as the local path (`app.scaling.tasks.score_chunk`). In-memory features are
scattered to the workers chunk by chunk (at most two tasks in flight per worker, so the client
never copies the whole pool at once); a `StoredPool` on shared storage is read by the workers
themselves and only row positions travel. If the scheduler cannot be reached the work runs
locally, with the same results.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

import numpy as np

from app.learning import strategies
from app.learning.committee import Committee
from app.learning.embeddings import MINILM_DIM
from app.learning.estimators import LabelModel
from app.learning.ranking import SCORE_CHUNK_ROWS
from app.scaling.local import LocalBackend, as_views, scored_rows
from app.scaling.storedpool import StoredPool
from app.scaling.tasks import (
    NO_DRAWS,
    ROW_DRAWS,
    Chunk,
    Source,
    can_split_rng,
    chunks,
    encode_on_worker,
    length_sorted_batches,
    score_chunk,
)

logger = logging.getLogger(__name__)

TASK_ROWS = 4 * SCORE_CHUNK_ROWS  # 65,536 rows: ~100 MB of dense 384-d float32 per task
ENCODE_TEXTS = 512  # texts per embedding task: a multiple of the encoder's batch of 32
TASKS_PER_WORKER = 2


class DaskBackend:
    """Runs scoring and embedding on the Dask cluster at ``address`` (``tcp://host:8786``).

    Every Dask worker must run the same labelloop version (it unpickles the model and imports
    `app.scaling.tasks`), and see the paths of any `StoredPool` it is given.
    """

    name = "dask"

    def __init__(
        self,
        address: str | Any,
        *,
        task_rows: int = TASK_ROWS,
        encode_texts: int = ENCODE_TEXTS,
        connect_timeout: float = 10.0,
    ) -> None:
        """Args:
        address: the scheduler's address, or a connected `distributed.Client`.
        task_rows: pool rows per scoring task; a multiple of SCORE_CHUNK_ROWS.
        encode_texts: texts per embedding task; a multiple of 32 (the encoder's batch).
        connect_timeout: seconds to wait for the scheduler before working locally.
        """
        if task_rows < 1 or task_rows % SCORE_CHUNK_ROWS:
            raise ValueError(f"task_rows must be a multiple of {SCORE_CHUNK_ROWS}")
        if encode_texts < 1 or encode_texts % 32:
            raise ValueError("encode_texts must be a positive multiple of 32")
        self.address = address if isinstance(address, str) else None
        self._client = None if isinstance(address, str) else address
        self.task_rows, self.encode_texts = task_rows, encode_texts
        self.connect_timeout = connect_timeout
        self.local = LocalBackend()
        self._lock = threading.Lock()

    def client(self) -> Any | None:
        """The connected client (connecting on first use), or None if the scheduler is down."""
        from distributed import Client

        with self._lock:
            if self._client is not None and self._client.status not in ("closing", "closed"):
                return self._client
            if self.address is None:
                return None
            try:
                self._client = Client(
                    self.address, timeout=self.connect_timeout, set_as_default=False
                )
            except (OSError, TimeoutError) as exc:
                logger.warning("Dask scheduler %s unreachable (%s): local", self.address, exc)
                return None
            return self._client

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
        """Strategy scores of the pool: the same float64 (m,) array as `LocalBackend.score`.

        Args: as `LocalBackend.score`. The caller's ``rng`` is left in the state the local
        path would leave it in (advanced by m draws for "random", untouched otherwise).
        """
        views = as_views(X)
        n = scored_rows(views, rows)
        if strategies.needs_committee(strategy) and not isinstance(model, Committee):
            raise strategies.MissingInputError(f"strategy {strategy!r} needs a Committee model")
        client = self.client() if n and can_split_rng(rng) else None
        if client is None:
            return self._local_score(strategy, model, views, multi_label, rng, rows, chunk_rows)
        out = np.empty(n, dtype=np.float64)
        draws: set[int] = set()
        model_future = client.scatter(model, broadcast=True, hash=False)
        state = rng.bit_generator.state

        def submit(chunk: Chunk) -> Any:
            data = [_on_worker(client, v, chunk) for v in views]
            return client.submit(
                score_chunk,
                strategy,
                model_future,
                data,
                chunk,
                multi_label=multi_label,
                rng_state=state,
                inner_rows=chunk_rows,
                pure=False,
            )

        def collect(chunk: Chunk, result: tuple[np.ndarray, int]) -> None:
            out[chunk.start : chunk.stop] = result[0]
            draws.add(result[1])

        _run_windowed(client, chunks(n, self.task_rows, rows), submit, collect)
        if draws == {ROW_DRAWS}:
            cast(np.random.PCG64, rng.bit_generator).advance(n)  # default_rng's generator
        elif draws != {NO_DRAWS}:  # not reproducible chunk by chunk: score here instead
            logger.warning("strategy %r draws irregularly: scoring locally", strategy)
            return self._local_score(strategy, model, views, multi_label, rng, rows, chunk_rows)
        return out

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """MiniLM embeddings computed on the workers (one encoder per worker process).

        Texts are sorted by length and cut into runs of ``encode_texts`` so every batch the
        encoder pads is the batch a single local `encode` call would pad.

        Returns:
            float32 (n, 384) unit rows, in input order.
        """
        client = self.client() if texts else None
        if client is None:
            return self.local.encode(texts)
        out = np.empty((len(texts), MINILM_DIM), dtype=np.float32)

        def submit(positions: np.ndarray) -> Any:
            batch = [texts[i] for i in positions]
            return client.submit(encode_on_worker, batch, pure=False)

        def collect(positions: np.ndarray, vectors: np.ndarray) -> None:
            out[positions] = vectors

        _run_windowed(client, length_sorted_batches(texts, self.encode_texts), submit, collect)
        return out

    def _local_score(
        self,
        strategy: str,
        model: LabelModel | Committee,
        views: list[Source],
        multi_label: bool,
        rng: np.random.Generator,
        rows: np.ndarray | None,
        chunk_rows: int,
    ) -> np.ndarray:
        X = views if len(views) > 1 else views[0]
        return self.local.score(
            strategy, model, X, multi_label=multi_label, rng=rng, rows=rows, chunk_rows=chunk_rows
        )


def _on_worker(client: Any, view: Source, chunk: Chunk) -> Any:
    """A stored pool as is (workers read it), else the chunk's rows scattered to a worker.

    Scattering sends the rows straight to a worker, not through the scheduler.
    """
    if isinstance(view, StoredPool):
        return view
    return client.scatter(chunk.read(view), hash=False)


def _run_windowed(
    client: Any,
    work: Iterable[Any],
    submit: Callable[[Any], Any],
    collect: Callable[[Any, Any], None],
) -> None:
    """Submit ``work`` items keeping TASKS_PER_WORKER tasks in flight per worker.

    ``collect(item, result)`` is called as each finishes (in completion order). A task that
    fails raises here, after Dask's own retries on other workers.
    """
    from distributed import as_completed

    workers = max(1, len(client.scheduler_info().get("workers", {})))
    pending = iter(work)
    running: dict[Any, Any] = {}
    queue = as_completed()
    for item in pending:
        future = submit(item)
        running[future.key] = item
        queue.add(future)
        if len(running) >= TASKS_PER_WORKER * workers:
            break
    for future in queue:
        item = running.pop(future.key)
        collect(item, future.result())
        future.release()
        following = next(pending, None)
        if following is not None:
            nxt = submit(following)
            running[nxt.key] = following
            queue.add(nxt)
