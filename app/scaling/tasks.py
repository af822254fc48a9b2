"""The units of work both backends run: score one chunk of the pool, embed one batch of texts.

A chunk is rows [start, stop) of the pool (or of a row selection), so the local loop and a
Dask worker compute exactly the same rows with the same code. Randomness stays reproducible:
the chunk's generator is the caller's generator advanced by ``start`` draws, which is where a
sequential pass would have left it when the strategy draws one number per row ("random").
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeAlias

import numpy as np

from app.learning.committee import Committee
from app.learning.embeddings import MiniLMEncoder
from app.learning.estimators import LabelModel, Matrix
from app.learning.ranking import SCORE_CHUNK_ROWS, score_pool
from app.scaling.storedpool import StoredPool

Source: TypeAlias = Matrix | StoredPool
NO_DRAWS, ROW_DRAWS, OTHER_DRAWS = 0, 1, 2  # how a chunk used its generator

_encoder_lock = threading.Lock()
encoder_builds = 0  # MiniLM encoders built in this process (one per Dask worker process)


@dataclass(frozen=True)
class Chunk:
    """Rows [start, stop) of the scored pool; ``rows`` maps them to source rows (None: same)."""

    start: int
    stop: int
    rows: np.ndarray | None = None

    def read(self, source: Source) -> Matrix:
        """This chunk's rows of one feature view (in memory or stored), shape (stop-start, d)."""
        index = slice(self.start, self.stop) if self.rows is None else self.rows
        if isinstance(source, StoredPool):
            return source.rows(index)
        return source[index]


def chunks(n: int, chunk_rows: int, rows: np.ndarray | None = None) -> list[Chunk]:
    """Split n scored rows into chunks of ``chunk_rows`` (the last may be shorter)."""
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}")
    return [
        Chunk(start, min(start + chunk_rows, n), None if rows is None else rows[start:stop])
        for start, stop in ((s, min(s + chunk_rows, n)) for s in range(0, n, chunk_rows))
    ]


def can_split_rng(rng: np.random.Generator) -> bool:
    """Whether chunk generators can be derived from ``rng`` (its bit generator can advance)."""
    return hasattr(rng.bit_generator, "advance")


def chunk_rng(state: dict[str, Any], draws: int) -> np.random.Generator:
    """A generator in bit-generator ``state`` advanced by ``draws`` 64-bit draws."""
    bit_generator = getattr(np.random, state["bit_generator"])()
    bit_generator.state = state
    bit_generator.advance(draws)
    return np.random.Generator(bit_generator)


def score_chunk(
    strategy: str,
    model: LabelModel | Committee,
    views: Sequence[Source],
    chunk: Chunk,
    *,
    multi_label: bool,
    rng_state: dict[str, Any],
    inner_rows: int = SCORE_CHUNK_ROWS,
) -> tuple[np.ndarray, int]:
    """Scores of one chunk, computed by `score_pool` as the local path computes them.

    Args:
        strategy, model, multi_label: as in `app.learning.ranking.score_pool`.
        views: the pool's feature views (one, or a Committee's list): a StoredPool is read
            at the chunk's rows; an in-memory matrix must already be the chunk's rows.
        chunk: which rows of the scored pool.
        rng_state: the caller's generator state before scoring the whole pool.
        inner_rows: `score_pool`'s chunk size; task sizes that are multiples of it make
            every prediction call identical to the local path's.

    Returns:
        (float64 scores of shape (stop-start,), NO_DRAWS / ROW_DRAWS / OTHER_DRAWS: whether
        the strategy drew nothing, one number per row, or something else from its generator).
    """
    data = [chunk.read(v) if isinstance(v, StoredPool) else v for v in views]
    rng = chunk_rng(rng_state, chunk.start)
    before = rng.bit_generator.state
    X = data if len(data) > 1 else data[0]
    scores = score_pool(strategy, model, X, multi_label=multi_label, rng=rng, chunk_rows=inner_rows)
    after = rng.bit_generator.state
    if after == before:
        return scores, NO_DRAWS
    if after == chunk_rng(rng_state, chunk.stop).bit_generator.state:
        return scores, ROW_DRAWS
    return scores, OTHER_DRAWS


def length_sorted_batches(texts: Sequence[str], batch_texts: int) -> list[np.ndarray]:
    """Positions of ``texts`` sorted by length (stable), cut into runs of ``batch_texts``.

    `MiniLMEncoder.encode` sorts the same way before padding batches; runs that are multiples
    of its batch size therefore pad exactly the batches a single local call would pad.
    """
    order = np.argsort([len(t) for t in texts], kind="stable")
    return [order[i : i + batch_texts] for i in range(0, len(order), batch_texts)]


@cache
def _encoder(threads: int) -> MiniLMEncoder:
    global encoder_builds
    encoder_builds += 1
    return MiniLMEncoder(threads=threads)


def encode_batch(texts: Sequence[str], *, threads: int = 0) -> np.ndarray:
    """Embed texts with this process's MiniLM encoder, built on first use and then reused.

    Args:
        texts: n strings.
        threads: onnxruntime intra-op threads of the encoder (0: all cores); a Dask worker
            passes its own thread count so two workers on one host do not oversubscribe it.

    Returns:
        float32 (n, 384) unit rows.
    """
    with _encoder_lock:
        return _encoder(threads).encode(list(texts))


def worker_threads() -> int:
    """Threads of the Dask worker running this task (0 outside a worker)."""
    try:
        from distributed import get_worker

        return int(get_worker().state.nthreads)
    except (ImportError, ValueError):
        return 0


def encode_on_worker(texts: Sequence[str]) -> np.ndarray:
    """`encode_batch` sized to the worker's threads: the function Dask workers run."""
    return encode_batch(texts, threads=worker_threads())


def encoder_build_count() -> int:
    """How many encoders this process has built (tests check: one per worker)."""
    return encoder_builds
