"""The background training worker: claims queued runs from the database and executes them.

Runs as a thread inside ``labelloop serve`` (embedded default) or as its own process
(``labelloop worker``); any number may run against one database, and the claim in the
database still gives exactly one run at a time per project.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from app import heap, scaling
from app.config import Settings
from app.db import Database
from app.learning.estimators import NotEnoughLabelsError
from app.oracles import prelabel
from app.scheduler.liveness import Heartbeat, host_heartbeat
from app.training import backfill, jobs, runs
from app.training import service as training

log = logging.getLogger("labelloop.worker")
STOP_CHECK_SECONDS = 0.05
INTERNAL_ERROR = "the run failed on an internal error; the worker's log has the details"


class Worker:
    """Claims and executes runs; ``heartbeat`` shows the loop is alive (``worker --check``)."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        name: str | None = None,
        *,
        heartbeat: Heartbeat | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        self.heartbeat = heartbeat
        self._last_recovery = float("-inf")
        self._running = threading.Event()  # set while this worker executes a run

    def _alive(self) -> None:
        if self.heartbeat is not None:
            self.heartbeat.beat()

    def run_once(self) -> bool:
        """Recover stale runs (now and then), claim and execute one run. Returns whether one ran.

        Idle polls only read; the write lock is taken when there is something to claim.
        """
        now = time.monotonic()
        if now - self._last_recovery >= self.settings.worker_heartbeat_seconds:
            self._last_recovery = now
            with self.db.writer() as session, session.begin():
                runs.recover_stale(
                    session, stale_after=timedelta(seconds=self.settings.worker_stale_seconds)
                )
        with self.db.reader() as session:
            if not training.has_queued(session):
                return False
        with self.db.writer() as session, session.begin():
            run_id = runs.claim_next(session, self.name)
        if run_id is None:
            return False
        self._execute(run_id)
        return True

    def _execute(self, run_id: int) -> None:
        stop_beating = threading.Event()
        beater = threading.Thread(target=self._beat, args=(run_id, stop_beating), daemon=True)
        beater.start()
        self._running.set()
        try:
            # A run's transient memory (a featuriser's vocabulary, pool chunks) goes back to
            # the system: an idle worker stays at its start-up size (bench/memory.py).
            with heap.returned_after():
                jobs.execute_run(self.db, self.settings, run_id)
            log.info("run %s succeeded", run_id)
        except NotEnoughLabelsError as exc:
            self._fail(run_id, str(exc))
        except Exception:  # noqa: BLE001 - any error fails the run, the worker goes on
            # The run's error is shown on the dashboard and by the API: a sentence for people,
            # never the exception's text (a database error carries its SQL); the log has it.
            log.exception("run %s failed", run_id)
            self._fail(run_id, INTERNAL_ERROR)
        finally:
            self._running.clear()
            stop_beating.set()
            beater.join()

    def _fail(self, run_id: int, error: str) -> None:
        with self.db.writer() as session, session.begin():
            runs.fail_run(session, run_id, error)

    def _beat(self, run_id: int, stop: threading.Event) -> None:
        while not stop.wait(self.settings.worker_heartbeat_seconds):
            self._alive()  # a long run keeps the process's heartbeat fresh too
            try:
                with self.db.writer() as session, session.begin():
                    runs.heartbeat(session, run_id)
            except Exception:  # noqa: BLE001 - a missed beat is retried on the next tick
                log.warning("heartbeat for run %s failed", run_id, exc_info=True)

    def run_forever(self, stop: threading.Event) -> None:
        """Poll until ``stop`` is set; an error in one iteration never ends the loop."""
        log.info("worker %s started", self.name)
        for name, step, what in (
            ("labelloop-oracles", lambda: prelabel.step(self.db, self.settings), "pre-labelling"),
            ("labelloop-embed", self._backfill(stop).step, "background embedding"),
        ):
            args = (stop, step, what)
            threading.Thread(target=self._repeat, args=args, name=name, daemon=True).start()
        while not stop.is_set():
            self._alive()
            try:
                worked = self.run_once()
            except Exception:  # noqa: BLE001
                log.exception("worker iteration failed")
                worked = False
            if not worked:
                self._idle(stop)

    def _idle(self, stop: threading.Event) -> None:
        """Wait up to ``worker_poll_seconds``: less when this process queues a run (a label
        on ``labelloop serve``'s web side: about 0.1 s sooner on average at the default 0.2 s,
        bench/README.md) or ``stop`` is set (looked at every STOP_CHECK_SECONDS)."""
        deadline = time.monotonic() + self.settings.worker_poll_seconds
        while not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if training.RUN_QUEUED.wait(min(remaining, STOP_CHECK_SECONDS)):
                training.RUN_QUEUED.clear()
                return

    def _backfill(self, stop: threading.Event) -> backfill.Backfill:
        """Embeds big MiniLM pools in the background (``backfill``), never during a run."""

        def pause() -> None:
            while self._running.is_set() and not stop.is_set():
                stop.wait(STOP_CHECK_SECONDS)

        encode_fn = scaling.backend_for(self.settings.dask_scheduler).encode
        return backfill.Backfill(self.db, self.settings, pause=pause, encode_fn=encode_fn)

    def _repeat(self, stop: threading.Event, step: Callable[[], bool], what: str) -> None:
        """Call ``step`` until ``stop``; when it had nothing to do, wait ``oracle_poll_seconds``.

        Oracles and background embedding each run in a thread of their own: a slow language
        model or a big pool never holds up training, nor training them.
        """
        while not stop.is_set():
            try:
                worked = step()
            except Exception:  # noqa: BLE001 - an error in one step never ends the loop
                log.exception("%s failed", what)
                worked = False
            if not worked:
                stop.wait(self.settings.oracle_poll_seconds)


def deprioritise_process(settings: Settings) -> None:
    """Make this process (``labelloop worker``) yield the CPU to the web processes.

    Adds ``settings.worker_nice`` to its niceness and caps the BLAS/OpenMP pools at
    ``settings.worker_threads``. Call it before starting threads: on Linux the niceness
    belongs to the calling thread and is inherited by the threads it starts later, and the
    cap keeps numerical work in those threads instead of the libraries' own pools.
    """
    if settings.worker_nice:
        os.nice(settings.worker_nice)
    if settings.worker_threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=settings.worker_threads)


def _deprioritise_thread(settings: Settings) -> None:
    """Add ``settings.worker_nice`` to the calling thread's niceness, on Linux only (a
    per-thread value there; elsewhere it would slow the whole server). No thread cap: that
    would apply to the whole server process."""
    if settings.worker_nice and sys.platform == "linux":
        os.nice(settings.worker_nice)


def start_thread(db: Database, settings: Settings) -> tuple[threading.Thread, threading.Event]:
    """Start an embedded worker thread (at a lower priority); set the returned event to stop it."""
    stop = threading.Event()
    # It beats like a worker process: `labelloop worker --check` on this host then sees it.
    worker = Worker(db, settings, heartbeat=host_heartbeat(settings))

    def run() -> None:
        _deprioritise_thread(settings)
        worker.run_forever(stop)

    thread = threading.Thread(target=run, name="labelloop-worker", daemon=True)
    thread.start()
    return thread, stop
