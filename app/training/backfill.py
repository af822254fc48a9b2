"""MiniLM vectors of a big pool, embedded in the background while it trains on static ones.

A run of a "minilm" project whose pool has more than ``fast_features_above`` items without a
vector uses static vectors instead (``featurestore.load``) and leaves a marker here
(``request``). The worker's backfill thread (``Backfill.step``) embeds the missing items one
stored chunk at a time, a small batch per call, and waits while the worker runs a training run,
so fresh rankings come first. Once every item has its vector it removes the marker and queues a
run, which trains on MiniLM and publishes its ranking atomically like any other. A killed
worker loses at most the chunk it was writing (chunks are written whole, then renamed).
"""

from __future__ import annotations

import fcntl
import logging
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from app import heap
from app.config import Settings
from app.db import Database
from app.learning.embeddings import encode, release
from app.models import Project
from app.projects.service import options
from app.training.embeddingstore import EmbeddingStore
from app.training.encoders import STATIC_KEY

log = logging.getLogger("labelloop.backfill")
MARKER = "backfill"
CHUNK_TEXTS = 2_048  # per stored chunk: a million items make ~500 files
# Per encoder call (~0.2 s on two cores): the longest a run shares the cores with it.
BATCH_TEXTS = 32


def request(project_dir: Path) -> None:
    """Mark the project: its MiniLM vectors are to be embedded in the background."""
    directory = project_dir / "embeddings"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MARKER).touch()


def requested(data_dir: Path) -> list[int]:
    """Ids of the projects marked by ``request``, ascending."""
    found = (p.parent.parent.name for p in (data_dir / "projects").glob(f"*/embeddings/{MARKER}"))
    return sorted(int(name) for name in found if name.isdigit())


def drop_stand_ins(project_dir: Path) -> None:
    """Delete the static vectors a MiniLM project trained on while it was embedded: its runs
    use MiniLM now (a published static model needs only the encoder, kept per data directory)."""
    shutil.rmtree(project_dir / "embeddings" / STATIC_KEY, ignore_errors=True)


class Backfill:
    """Embeds the marked projects' missing items; ``step`` does one chunk of one project.

    Args:
        pause: blocks while the worker runs a training run (called between encoder calls).
        encode_fn: texts -> (n, 384) MiniLM vectors (a Dask cluster's, where configured).
        release_fn: frees what ``encode_fn`` holds once nothing is left to embed.
    """

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        pause: Callable[[], None] = lambda: None,
        encode_fn: Callable[[Sequence[str]], np.ndarray] = encode,
        release_fn: Callable[[], bool] = release,
        batch_texts: int = BATCH_TEXTS,
    ) -> None:
        self.db, self.settings = db, settings
        self.pause, self.encode_fn, self.batch_texts = pause, encode_fn, batch_texts
        self.release_fn, self._embedded = release_fn, False
        self._todo: dict[int, tuple[int, np.ndarray]] = {}  # project -> (pool version, ids)

    def step(self) -> bool:
        """Embed one chunk of the first marked project that has work. Returns whether it did.

        Once there is nothing left to embed, the encoder is dropped and its memory handed
        back: a server that embedded a big pool once should not keep ~170 MB for it.
        """
        if any(self._locked_step(p) for p in requested(self.settings.data_dir)):
            self._embedded = True
            return True
        if self._embedded:
            self._embedded = False
            if self.release_fn():
                heap.trim()
        return False

    def _locked_step(self, project_id: int) -> bool:
        """``_step``, unless another worker process is embedding this project (a file lock)."""
        directory = self.settings.project_dir(project_id) / "embeddings"
        if not directory.is_dir():  # the project was deleted meanwhile
            return False
        with (directory / f".{MARKER}.lock").open("w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return self._step(project_id)

    def _step(self, project_id: int) -> bool:
        from app.training import service, snapshot  # the run's own readers of the pool

        project_dir = self.settings.project_dir(project_id)
        with self.db.reader() as session:
            project = session.get(Project, project_id)
            wanted = project is not None and options(project).features == "minilm"
            version = project.pool_version if project is not None else 0
        if not wanted:  # deleted, or switched to other features
            self._done(project_dir, project_id)
            return False
        store = EmbeddingStore(project_dir / "embeddings")
        todo = self._missing(store, project_id, version)
        if todo.size == 0:
            self._done(project_dir, project_id)
            with self.db.writer() as session, session.begin():
                service.queue_run(session, project_id, reason="embeddings")
            log.info("project %s: every item embedded, switching to MiniLM", project_id)
            return True
        ids = todo[:CHUNK_TEXTS]
        texts = snapshot.texts_of(self.db, ids)
        store.add(ids, self._encode(texts))
        self._todo[project_id] = (version, todo[ids.size :])
        return True

    def _missing(self, store: EmbeddingStore, project_id: int, version: int) -> np.ndarray:
        """The project's ids without a vector: computed once per pool version, then consumed."""
        from app.training import snapshot

        known = self._todo.get(project_id)
        if known is not None and known[0] == version:
            return known[1]
        ids = snapshot.pool_ids(self.db, self.settings, project_id, version)
        return np.setdiff1d(ids, store.cached_ids(), assume_unique=True)

    def _encode(self, texts: list[str]) -> np.ndarray:
        parts = []
        for start in range(0, len(texts), self.batch_texts):
            self.pause()
            parts.append(self.encode_fn(texts[start : start + self.batch_texts]))
        return np.concatenate(parts)

    def _done(self, project_dir: Path, project_id: int) -> None:
        (project_dir / "embeddings" / MARKER).unlink(missing_ok=True)
        self._todo.pop(project_id, None)
