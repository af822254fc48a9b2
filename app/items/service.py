"""Dataset import: streamed, all-or-nothing, identical texts stored once per project.

Records are validated a chunk at a time and staged in a temporary table (``staging``); the
staged rows are published into the project in one step at the end. The synchronous path does
it all in the request's transaction; a background job (``jobs``) commits each chunk on its own
connection, so the database stays free for annotators until the final publish.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, BinaryIO

from sqlalchemy import Connection, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.audit import service as audit
from app.audit.service import Actor
from app.errors import AppError, Invalid
from app.items import checks, shaped, staging
from app.items.formats import ImportFormatError, Record, detect_format, iter_records
from app.items.formats.base import EXPORT_ID, EXPORT_LABELS
from app.items.identity import random_key as random_key  # also for scripts
from app.items.identity import text_hash as text_hash
from app.models import ImportJob, ImportStatus, Item, Project
from app.models.base import utcnow
from app.projects.shape import Shape
from app.training.service import queue_after_import

CHUNK_ROWS = 5000


@dataclass(frozen=True)
class ImportOptions:
    filename: str | None
    format: str | None = None
    text_field: str = "text"
    label_field: str | None = None  # None: use a "label" column if the file has one
    id_field: str | None = None  # None: use an "id" column if the file has one
    max_text_chars: int = 100_000
    # A project with named fields: field -> column (default: the column named as the field).
    fields: Mapping[str, str] | None = None
    correction_field: str | None = None  # None: a "correction" column if the file has one


@dataclass
class ImportResult:
    imported: int = 0
    duplicates: int = 0
    labeled: int = 0
    documents: int | None = None  # sentence selection: documents added (None: other tasks)
    first_item_id: int | None = None  # the items it added: the project's ids in this range
    last_item_id: int | None = None
    import_id: int | None = None  # its row in import_jobs, the handle to undo it


@dataclass(frozen=True)
class Target:
    """What validation needs of the project an import goes into."""

    id: int
    labels: tuple[str, ...]
    multi_label: bool
    random_seed: int
    shape: Shape = field(default_factory=Shape)

    @classmethod
    def of(cls, project: Project) -> Target:
        return cls(
            project.id,
            tuple(project.labels),
            project.multi_label,
            project.random_seed,
            Shape.of(project),
        )

    @property
    def plain(self) -> bool:
        """One text per item, staged as before task shapes existed."""
        return not (self.shape.multi_field or self.shape.sentences or self.shape.corrections)


def import_records(
    session: Session, project: Project, stream: BinaryIO, options: ImportOptions
) -> ImportResult:
    """Insert every record of ``stream`` or raise (the caller rolls back: nothing is written)."""
    conn = session.connection()
    staging.create(conn)
    stager = Stager(conn, Target.of(project))
    for _ in stager.stage(stream, options):
        pass
    result = publish(session, project, stager)
    staging.drop(conn)
    return result


def import_file(
    session: Session, project: Project, stream: BinaryIO, options: ImportOptions, *, actor: Actor
) -> ImportResult:
    """An upload imported by a person (API or web), all or nothing: the records, the ranking
    run the new items need, and the audit event, in the caller's transaction."""
    result = import_records(session, project, stream, options)
    queue_after_import(session, project, imported=result.imported)
    result.import_id = _record_done(session, project, stream, options, result)
    record_import(
        session,
        actor,
        project,
        options,
        rows=result.imported + result.duplicates,
        import_id=result.import_id,
    )
    return result


def _record_done(
    session: Session,
    project: Project,
    stream: BinaryIO,
    options: ImportOptions,
    result: ImportResult,
) -> int:
    """An import done in the request is a finished row of ``import_jobs``, as a background
    one ends up: one list of a project's imports, each of which can be undone."""
    try:
        size = stream.tell()  # read to the end
    except (OSError, ValueError):
        size = 0
    now = utcnow()
    job = ImportJob(
        project_id=project.id,
        status=ImportStatus.SUCCEEDED,
        filename=(options.filename or "upload")[:300],
        stored_name="",  # nothing kept: it was read in the request
        format=detect_format(options.filename, options.format),
        text_field=options.text_field,
        label_field=options.label_field,
        id_field=options.id_field,
        bytes_total=size,
        bytes_done=size,
        rows_done=result.imported + result.duplicates,
        imported=result.imported,
        duplicates=result.duplicates,
        labeled=result.labeled,
        first_item_id=result.first_item_id,
        last_item_id=result.last_item_id,
        started_at=now,
        finished_at=now,
        heartbeat_at=now,
    )
    session.add(job)
    session.flush()
    return job.id


def record_import(
    session: Session, actor: Actor, project: Project, options: ImportOptions, **detail: Any
) -> None:
    """The audit event of an import (or of a queued import job): file name, format, and
    ``detail`` (rows; a job's id and size)."""
    fmt = detect_format(options.filename, options.format)
    detail = {"file": options.filename, "format": fmt, **detail}
    audit.record(
        session, actor, "import", target=project.name, project_id=project.id, detail=detail
    )


def check_head(
    session: Session, project: Project, stream: BinaryIO, options: ImportOptions
) -> None:
    """Check the first record of ``stream`` as the import will, before a job is started for
    it: staged by the same ``Stager`` on the request's connection, then dropped. A format,
    header or first-row problem (a field, the label, the id) raises AppError, 4xx."""
    conn = session.connection()
    staging.create(conn)
    for _ in Stager(conn, Target.of(project)).stage(stream, options, rows=1):
        pass
    staging.drop(conn)


class Stager:
    """Validates records a chunk at a time and stages the new ones on ``conn``.

    Duplicates (of an earlier row, or of an item of the project) are counted and skipped,
    but two rows of one text with different labels are refused; any problem raises Invalid
    naming the row.
    """

    def __init__(self, conn: Connection, target: Target) -> None:
        self.conn = conn
        self.target = target
        self.rows = 0
        self.documents = shaped.Documents(
            conn, target.id, lambda digest: random_key(target.random_seed, digest)
        )
        self._had_items: bool | None = None  # whether the project had items when staging began

    def stage(
        self,
        stream: BinaryIO,
        options: ImportOptions,
        transaction: Callable[[], AbstractContextManager[Any]] | None = None,
        rows: int | None = None,
    ) -> Iterator[int]:
        """Stage every record of ``stream`` (the first ``rows`` only, when given); yields the
        rows read so far after each chunk.

        ``transaction``, when given, is entered around each chunk (a job commits chunk by chunk).
        """
        enter = transaction or nullcontext
        try:
            records = islice(_records(self.target, stream, options), rows)
            for chunk in _chunks(records, CHUNK_ROWS):
                with enter():
                    self._add(chunk)
                yield self.rows
        except ImportFormatError as exc:
            self._raise_earlier_problem()
            raise AppError(exc.message, status_code=exc.status_code) from None
        except AppError:
            self._raise_earlier_problem()
            raise
        with enter():
            self._check_whole_file()

    def _add(self, chunk: list[Record]) -> None:
        """Check one chunk against itself and the project, and stage its new rows."""
        self.rows += len(chunk)
        checks.check_labels(self.target.labels, chunk)
        if self.target.shape.sentences:
            return self.documents.add(chunk)
        if not self.target.plain:
            hashes = [shaped.item_hash(r) for r in chunk]
        else:
            hashes = [text_hash(r.text) for r in chunk]
        known = self._in_project(Item.text_hash, hashes)
        fresh, probes = checks.first_of_each(chunk, hashes, known)
        self._check_external_ids(fresh.values())
        seed = self.target.random_seed
        staged = [*fresh.items(), *probes]
        if not self.target.plain:
            triples = [(d, r, random_key(seed, d)) for d, r in staged]
            return staging.add(self.conn, shaped.field_rows(triples), staging.SHAPED_COLUMNS)
        rows = [
            (
                r.row,
                r.line,
                digest,
                r.external_id,
                r.text,
                random_key(seed, digest),
                json.dumps(list(r.labels)) if r.labels else None,
            )
            for digest, r in staged
        ]
        staging.add(self.conn, rows)

    def _in_project(
        self, column: InstrumentedAttribute[Any], values: list[str] | list[bytes]
    ) -> set[Any]:
        """The values among ``values`` that items of the project already have in ``column``.

        A project with no items when staging began is not probed chunk by chunk (into an
        empty project that is a million index look-ups finding nothing): items another import
        adds meanwhile are caught at publish, a text skipped as a repeat and an id refused.
        """
        if self._had_items is None:
            first = select(Item.id).where(Item.project_id == self.target.id).limit(1)
            self._had_items = self.conn.scalar(first) is not None
        if not self._had_items:
            return set()
        stmt = select(column).where(
            Item.project_id == self.target.id, staging.among(self.conn, column, values)
        )
        return set(self.conn.scalars(stmt))

    def _check_whole_file(self) -> None:
        """Across chunks: refuse a text labelled two ways, drop repeated texts (keeping the
        first), then refuse repeated ids."""
        if staging.index_repeated_texts(self.conn):
            checks.refuse_conflicts(staging.label_conflicts(self.conn))
            staging.drop_repeated_texts(self.conn)
        repeated = staging.first_repeated_id(self.conn)
        if repeated is not None:
            checks.refuse(repeated, checks.ID_TWICE.format(repeated.external_id))

    def _raise_earlier_problem(self) -> None:
        """Before reporting a problem, report a repeated id among the rows staged before it."""
        if self.rows:
            with self.conn.begin() if not self.conn.in_transaction() else nullcontext():
                self._check_whole_file()

    def _check_external_ids(self, records: Collection[Record]) -> None:
        ids = list({r.external_id for r in records if r.external_id is not None})
        if not ids:
            return
        taken = self._in_project(Item.external_id, ids)
        seen: set[str] = set()
        for record in records:
            checks.check_id(record, seen, taken)


def publish(session: Session, project: Project, stager: Stager) -> ImportResult:
    """Move the staged rows into the project and count them; call in a write transaction."""
    if stager.rows == 0:
        raise Invalid("the file has no data rows")
    conn = session.connection()
    staging.lock_project(conn, project.id)
    floor = conn.scalar(select(func.max(Item.id))) or 0  # every new item's id is above it
    try:
        imported, labeled = staging.publish(conn, project.id, shaped=not stager.target.plain)
    except IntegrityError:
        raise Invalid(
            "an id of the file was added to the project by another import meanwhile; "
            "import the file again"
        ) from None
    session.execute(
        update(Project)
        .where(Project.id == project.id)
        .values(
            label_events=Project.label_events + labeled,
            pool_version=Project.pool_version + (1 if imported else 0),
        )
    )
    session.refresh(project)
    result = ImportResult(imported=imported, duplicates=stager.rows - imported, labeled=labeled)
    if stager.target.shape.sentences:
        result.documents, result.duplicates = stager.documents.staged, stager.documents.skipped
    if imported:
        result.first_item_id, result.last_item_id = conn.execute(
            select(func.min(Item.id), func.max(Item.id)).where(
                Item.project_id == project.id, Item.id > floor
            )
        ).one()
    return result


def _records(target: Target, stream: BinaryIO, options: ImportOptions) -> Iterator[Record]:
    shape, text_field = target.shape, options.text_field
    fields: tuple[tuple[str, str], ...] = ()
    if shape.multi_field:
        fields = shaped.field_columns(shape, options.fields)
        text_field = dict(fields)[shape.primary_field]
    elif options.fields:
        raise Invalid("fields: the project has the one field text (use text_field)")
    correction = (options.correction_field or "correction") if shape.corrections else None
    if options.correction_field is not None and correction is None:
        raise Invalid("correction_field: only translation_review projects take corrections")
    return iter_records(
        stream,
        detect_format(options.filename, options.format),
        fields=fields,
        correction_field=correction,
        text_field=text_field,
        label_field=options.label_field or "label",
        id_field=options.id_field or "id",
        # An export's own columns, read when the file has not the default ones (and none
        # is named): so that an export imports back.
        label_fallback=None if options.label_field else EXPORT_LABELS,
        id_fallback=None if options.id_field else EXPORT_ID,
        label_field_required=options.label_field is not None,
        id_field_required=options.id_field is not None,
        multi_label=target.multi_label,
        max_text_chars=options.max_text_chars,
    )


def _chunks(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    it = iter(records)
    while chunk := list(islice(it, size)):
        yield chunk
