"""The web process's import thread: runs queued import jobs one at a time, fails stale ones,
and deletes browser uploads that were previewed and never imported."""

from __future__ import annotations

import logging
import queue
import threading
import time

from app.config import Settings
from app.db import Database
from app.items import jobs, uploads

log = logging.getLogger("labelloop.imports")

SWEEP_SECONDS = 1.0  # how often an idle runner looks for stale jobs
UPLOAD_SWEEP_SECONDS = 600.0  # and for stale uploads (also once at start)


class ImportRunner:
    """One background thread per web process; one job at a time keeps memory bounded."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self._jobs: queue.Queue[int | None] = queue.Queue()  # None: wake up and stop
        self._waiting: list[int] = []  # submitted, not yet started (beaten by the running job)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="labelloop-imports", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30) -> None:
        """Ask the running job to stop (it fails, writing nothing) and wait for the thread."""
        self._stop.set()
        self._jobs.put(None)  # do not wait out the idle loop's timeout
        self._thread.join(timeout=timeout)

    def submit(self, job_id: int) -> None:
        with self._lock:
            self._waiting.append(job_id)
        self._jobs.put(job_id)

    def waiting(self) -> list[int]:
        with self._lock:
            return list(self._waiting)

    def _loop(self) -> None:
        last_sweep = last_upload_sweep = float("-inf")
        while not self._stop.is_set():
            if time.monotonic() - last_sweep >= SWEEP_SECONDS:
                self._sweep()
                last_sweep = time.monotonic()
            if time.monotonic() - last_upload_sweep >= UPLOAD_SWEEP_SECONDS:
                self._sweep_uploads()
                last_upload_sweep = time.monotonic()
            try:
                job_id = self._jobs.get(timeout=SWEEP_SECONDS)
            except queue.Empty:
                continue
            if job_id is None:
                break
            with self._lock:
                self._waiting.remove(job_id)
            control = jobs.Control(should_stop=self._stop.is_set, waiting=self.waiting)
            jobs.run_job(self.db, self.settings, job_id, control)

    def _sweep(self) -> None:
        try:
            failed = jobs.fail_stale(
                self.db, self.settings, stale_seconds=self.settings.worker_stale_seconds
            )
        except Exception:
            log.exception("could not look for stale import jobs")
            return
        for job_id in failed:
            log.warning("import job %s stopped beating: marked failed", job_id)

    def _sweep_uploads(self) -> None:
        try:
            removed = uploads.remove_stale(self.settings)
        except OSError:
            log.exception("could not remove stale uploads")
            return
        if removed:
            log.info("removed %s uploads never imported", removed)
