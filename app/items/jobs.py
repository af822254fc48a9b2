"""Import jobs: a large upload is kept on disk and imported in the background, all or nothing.

The job stages its rows on a connection of its own, committing chunk by chunk (nothing is
visible yet), then publishes them in one transaction that also marks the job succeeded. A
process killed mid-import loses its temporary table with its connection; the job stops
beating and ``fail_stale`` marks it failed: there is never a half import to clean up.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO, cast

from sqlalchemy import Connection, CursorResult, select, update
from sqlalchemy.orm import Session

from app.audit.service import Actor
from app.config import Settings
from app.db import Database
from app.errors import AppError, NotFound
from app.items import staging
from app.items.formats import Format, ImportFormatError, detect_format
from app.items.service import (
    ImportOptions,
    ImportResult,
    Stager,
    Target,
    check_head,
    publish,
    record_import,
)
from app.models import ImportJob, ImportStatus, Project
from app.models.base import utcnow
from app.projects.service import get_project
from app.training.service import queue_after_import

log = logging.getLogger("labelloop.imports")

PROGRESS_SECONDS = 0.5  # at most this often a job writes its progress (and heartbeat)
STOPPED = "the server stopped during the import; nothing was imported, upload the file again"
STALE = "the import stopped answering (was the server restarted?); nothing was imported"


class JobAborted(Exception):
    """The job is no longer ours to finish: failed by ``fail_stale``, or the server stops."""


def imports_dir(settings: Settings) -> Path:
    """Where uploads wait for their job (random names; the client's name is never a path)."""
    path = settings.data_dir / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def keep_upload(settings: Settings, stream: BinaryIO, fmt: Format) -> Path:
    """Copy an upload into the imports directory, under a random name."""
    path = imports_dir(settings) / f"{secrets.token_urlsafe(18)}.{fmt}"
    try:
        with path.open("wb") as out:
            shutil.copyfileobj(stream, out, length=1 << 20)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def in_background(settings: Settings, size: int | None, asked: bool | None) -> bool:
    """Whether an upload of ``size`` bytes is imported by a job: as asked, else when large."""
    if asked is not None:
        return asked
    return size is None or size > settings.import_background_bytes


def start(
    session: Session,
    settings: Settings,
    project_id: int,
    stream: BinaryIO,
    options: ImportOptions,
    *,
    actor: Actor,
) -> ImportJob:
    """Keep the upload on disk, check its head, and record a queued job for it (and who
    started it, in the audit log: the job itself runs as nobody).

    The copy is made before the first database access, so the write lock (SQLite) is not held
    while the file is written. Problems the first row shows (format, columns, the row's
    fields, label or id) fail here, 4xx, checked as the import will check them.
    """
    try:
        fmt = detect_format(options.filename, options.format)
    except ImportFormatError as exc:
        raise AppError(exc.message, status_code=exc.status_code) from None
    path = keep_upload(settings, stream, fmt)
    try:
        project = get_project(session, project_id)
        with path.open("rb") as fh:
            check_head(session, project, fh, options)
        job = create_job(session, project, path=path, filename=options.filename, options=options)
        record_import(
            session, actor, project, options, job_id=job.id, bytes=job.bytes_total, background=True
        )
        return job
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def create_job(
    session: Session,
    project: Project,
    *,
    path: Path,
    filename: str | None,
    options: ImportOptions,
) -> ImportJob:
    """Record a queued job for the upload kept at ``path``."""
    job = ImportJob(
        project_id=project.id,
        status=ImportStatus.QUEUED,
        filename=(filename or "upload")[:300],
        stored_name=path.name,
        format=path.suffix.lstrip("."),
        text_field=options.text_field,
        label_field=options.label_field,
        id_field=options.id_field,
        field_map=dict(options.fields) if options.fields else None,
        correction_field=options.correction_field,
        bytes_total=path.stat().st_size,
        bytes_done=0,
        rows_done=0,
    )
    session.add(job)
    session.flush()
    return job


def list_jobs(session: Session, project_id: int, *, limit: int = 100) -> list[ImportJob]:
    """The project's imports, newest first."""
    return list(
        session.scalars(
            select(ImportJob)
            .where(ImportJob.project_id == project_id)
            .order_by(ImportJob.id.desc())
            .limit(limit)
        )
    )


def get_job(session: Session, project_id: int, job_id: int) -> ImportJob:
    job = session.get(ImportJob, job_id)
    if job is None or job.project_id != project_id:
        raise NotFound(f"import job {job_id} not found in project {project_id}")
    return job


def fail_stale(db: Database, settings: Settings, *, stale_seconds: float) -> list[int]:
    """Mark failed the jobs that stopped beating; returns their ids (their files are removed).

    Looks first in a read: a web process sweeps every few seconds and almost always finds
    nothing, and a write transaction would take SQLite's lock from the labels for nothing.
    """
    cutoff = utcnow() - timedelta(seconds=stale_seconds)
    active = ImportJob.status.in_([ImportStatus.QUEUED, ImportStatus.RUNNING])
    any_stale = select(ImportJob.id).where(active, ImportJob.heartbeat_at < cutoff).limit(1)
    with db.reader() as session:
        if session.scalar(any_stale) is None:
            return []
    with db.writer() as session, session.begin():
        stale = session.execute(
            update(ImportJob)
            .where(active, ImportJob.heartbeat_at < cutoff)
            .values(status=ImportStatus.FAILED, error=STALE, finished_at=utcnow())
            .returning(ImportJob.id, ImportJob.stored_name)
        ).all()
    for _, name in stale:
        (imports_dir(settings) / name).unlink(missing_ok=True)
    return [job_id for job_id, _ in stale]


@dataclass(frozen=True)
class _Claimed:
    target: Target
    path: Path
    options: ImportOptions


@dataclass(frozen=True)
class Control:
    """What the runner tells a job: whether to stop, and which queued jobs wait behind it."""

    should_stop: Callable[[], bool]
    waiting: Callable[[], list[int]]


def run_job(db: Database, settings: Settings, job_id: int, control: Control) -> None:
    """Run one queued job to its end (succeeded or failed); never raises."""
    claimed = _claim(db, settings, job_id)
    if claimed is None:
        return
    try:
        with db.engine.connect() as conn:
            _import(db, conn, job_id, claimed, control)
    except AppError as exc:
        _fail(db, job_id, exc.message)
    except JobAborted as exc:
        _fail(db, job_id, str(exc))
    except Exception:
        log.exception("import job %s failed", job_id)
        _fail(db, job_id, "the import failed on an internal error; nothing was imported")
    finally:
        claimed.path.unlink(missing_ok=True)


def _claim(db: Database, settings: Settings, job_id: int) -> _Claimed | None:
    """Move the job from queued to running; None if it is not queued any more."""
    now = utcnow()
    with db.writer() as session, session.begin():
        claimed = cast(
            "CursorResult[Any]",
            session.execute(
                update(ImportJob)
                .where(ImportJob.id == job_id, ImportJob.status == ImportStatus.QUEUED)
                .values(status=ImportStatus.RUNNING, started_at=now, heartbeat_at=now)
            ),
        ).rowcount
        if not claimed:
            return None
        job = session.get_one(ImportJob, job_id)
        project = session.get_one(Project, job.project_id)
        options = ImportOptions(
            filename=job.stored_name,
            format=job.format,
            text_field=job.text_field,
            label_field=job.label_field,
            id_field=job.id_field,
            max_text_chars=settings.max_text_chars,
            fields=job.field_map,
            correction_field=job.correction_field,
        )
        return _Claimed(Target.of(project), imports_dir(settings) / job.stored_name, options)


def _import(
    db: Database,
    conn: Connection,
    job_id: int,
    claimed: _Claimed,
    control: Control,
) -> None:
    with conn.begin():
        staging.create(conn)
    try:
        stager = Stager(conn, claimed.target)
        with claimed.path.open("rb") as fh:
            last = 0.0
            for rows in stager.stage(fh, claimed.options, transaction=conn.begin):
                if control.should_stop():
                    raise JobAborted(STOPPED)
                if time.monotonic() - last >= PROGRESS_SECONDS:
                    _progress(db, job_id, control.waiting(), bytes_done=fh.tell(), rows_done=rows)
                    last = time.monotonic()
        _finish(conn, job_id, claimed.target.id, stager)
    finally:
        if conn.in_transaction():
            conn.rollback()
        with conn.begin():
            staging.drop(conn)


def _progress(
    db: Database, job_id: int, waiting: list[int], *, bytes_done: int, rows_done: int
) -> None:
    """Record progress and beat (for the jobs queued behind this one too); raise JobAborted
    if the job was failed meanwhile."""
    now = utcnow()
    with db.writer() as session, session.begin():
        alive = cast(
            "CursorResult[Any]",
            session.execute(
                update(ImportJob)
                .where(ImportJob.id == job_id, ImportJob.status == ImportStatus.RUNNING)
                .values(bytes_done=bytes_done, rows_done=rows_done, heartbeat_at=now)
            ),
        ).rowcount
        if waiting:
            session.execute(
                update(ImportJob)
                .where(ImportJob.id.in_(waiting), ImportJob.status == ImportStatus.QUEUED)
                .values(heartbeat_at=now)
            )
    if not alive:
        raise JobAborted(STALE)


def _finish(conn: Connection, job_id: int, project_id: int, stager: Stager) -> None:
    """Publish the staged rows and mark the job succeeded, in one write transaction."""
    conn.execution_options(sqlite_write=True)  # BEGIN IMMEDIATE on SQLite
    with conn.begin(), Session(bind=conn) as session:
        job = session.scalars(
            select(ImportJob).where(ImportJob.id == job_id).with_for_update()
        ).one()
        if job.status != ImportStatus.RUNNING:
            raise JobAborted(job.error or STALE)
        project = session.get_one(Project, project_id)
        result: ImportResult = publish(session, project, stager)
        queue_after_import(session, project, imported=result.imported)
        now = utcnow()
        job.status = ImportStatus.SUCCEEDED
        job.bytes_done = job.bytes_total
        job.rows_done = stager.rows
        job.imported, job.duplicates, job.labeled = (
            result.imported,
            result.duplicates,
            result.labeled,
        )
        job.first_item_id, job.last_item_id = result.first_item_id, result.last_item_id
        job.heartbeat_at = job.finished_at = now
        session.flush()


def _fail(db: Database, job_id: int, message: str) -> None:
    with db.writer() as session, session.begin():
        session.execute(
            update(ImportJob)
            .where(ImportJob.id == job_id, ImportJob.status == ImportStatus.RUNNING)
            .values(status=ImportStatus.FAILED, error=message, finished_at=utcnow())
        )
