"""Dataset import: streamed, all-or-nothing, identical texts stored once per project."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import BinaryIO

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from app.errors import AppError, Invalid
from app.items.parsing import ImportFormatError, Record, detect_format, iter_records
from app.models import Annotation, Item, Project
from app.models.base import utcnow

CHUNK_ROWS = 1000


@dataclass(frozen=True)
class ImportOptions:
    filename: str | None
    format: str | None = None
    text_field: str = "text"
    label_field: str | None = None  # None: use a "label" column if the file has one
    id_field: str | None = None  # None: use an "id" column if the file has one
    max_text_chars: int = 100_000


@dataclass
class ImportResult:
    imported: int = 0
    duplicates: int = 0
    labeled: int = 0


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def random_key(seed: int, digest: str) -> int:
    """A seeded pseudo-random sort key (48 bits) for the order served before any model."""
    h = hashlib.blake2b(f"{seed}:{digest}".encode(), digest_size=6).digest()
    return int.from_bytes(h, "big")


def import_records(
    session: Session, project: Project, stream: BinaryIO, options: ImportOptions
) -> ImportResult:
    """Insert every record of ``stream`` or raise (the caller rolls back: nothing is written)."""
    first_new_id = (session.scalar(select(func.max(Item.id))) or 0) + 1
    result = ImportResult()
    try:
        for chunk in _chunks(_records(project, stream, options), CHUNK_ROWS):
            _import_chunk(session, project, chunk, first_new_id, result)
    except ImportFormatError as exc:
        raise AppError(exc.message, status_code=exc.status_code) from None
    if result.imported == 0 and result.duplicates == 0:
        raise Invalid("the file has no data rows")
    project.label_events += result.labeled
    if result.imported:
        project.pool_version += 1
    session.flush()
    return result


def _records(project: Project, stream: BinaryIO, options: ImportOptions) -> Iterator[Record]:
    return iter_records(
        stream,
        detect_format(options.filename, options.format),
        text_field=options.text_field,
        label_field=options.label_field or "label",
        id_field=options.id_field or "id",
        label_field_required=options.label_field is not None,
        id_field_required=options.id_field is not None,
        multi_label=project.multi_label,
        max_text_chars=options.max_text_chars,
    )


def _chunks(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    it = iter(records)
    while chunk := list(islice(it, size)):
        yield chunk


def _import_chunk(
    session: Session, project: Project, chunk: list[Record], first_new_id: int, result: ImportResult
) -> None:
    _check_labels(project, chunk)
    hashes = [text_hash(r.text) for r in chunk]
    existing = set(
        session.scalars(
            select(Item.text_hash).where(Item.project_id == project.id, Item.text_hash.in_(hashes))
        )
    )
    fresh: dict[str, Record] = {}
    for record, digest in zip(chunk, hashes, strict=True):
        if digest in existing or digest in fresh:
            result.duplicates += 1
        else:
            fresh[digest] = record
    if not fresh:
        return
    _check_external_ids(session, project, list(fresh.values()), first_new_id)
    rows = [
        {
            "project_id": project.id,
            "external_id": r.external_id,
            "text": r.text,
            "text_hash": digest,
            "random_key": random_key(project.random_seed, digest),
            "created_at": utcnow(),
        }
        for digest, r in fresh.items()
    ]
    ids = session.scalars(insert(Item).returning(Item.id, sort_by_parameter_order=True), rows).all()
    result.imported += len(ids)
    _seed_annotations(session, project, list(fresh.values()), ids, result)


def _check_labels(project: Project, chunk: list[Record]) -> None:
    known = set(project.labels)
    for record in chunk:
        for label in record.labels:
            if label not in known:
                raise Invalid(
                    f"row {record.row}: unknown label {label!r}; "
                    f"the project's labels are: {', '.join(project.labels[:20])}"
                    + (", ..." if len(project.labels) > 20 else "")
                )


def _check_external_ids(
    session: Session, project: Project, records: list[Record], first_new_id: int
) -> None:
    seen: set[str] = set()
    for r in records:
        if r.external_id is not None:
            if r.external_id in seen:
                raise Invalid(f"row {r.row}: id {r.external_id!r} appears twice in the file")
            seen.add(r.external_id)
    if not seen:
        return
    rows = session.execute(
        select(Item.external_id, Item.id).where(
            Item.project_id == project.id, Item.external_id.in_(seen)
        )
    )
    clashes = {external_id: item_id for external_id, item_id in rows}
    for r in records:
        if r.external_id in clashes:
            where = "the file" if clashes[r.external_id] >= first_new_id else "the project"
            what = "appears twice in" if where == "the file" else "already exists in"
            raise Invalid(f"row {r.row}: id {r.external_id!r} {what} {where}")


def _seed_annotations(
    session: Session, project: Project, records: list[Record], ids: list[int], result: ImportResult
) -> None:
    now = utcnow()
    rows = [
        {
            "project_id": project.id,
            "item_id": item_id,
            "user_id": None,
            "labels": list(r.labels),
            "source": "import",
            "created_at": now,
            "updated_at": now,
        }
        for r, item_id in zip(records, ids, strict=True)
        if r.labels
    ]
    if rows:
        session.execute(insert(Annotation), rows)
        result.labeled += len(rows)
