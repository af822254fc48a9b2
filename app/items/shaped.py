"""Imports into projects of the other task shapes: items with named fields (identified by all
of them), corrections imported with their label, and documents split into sentence items.

The one-text path of ``app.items.service`` never comes here, so it stays as fast as it was.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import InstrumentedAttribute

from app.errors import Invalid
from app.items import staging
from app.items.checks import check_id, refuse
from app.items.formats import Record
from app.items.identity import hash_of_hex, text_hash
from app.items.sentences import MAX_SENTENCES, split
from app.models import Document
from app.projects.shape import Shape

MAX_MAPPING = 2000  # characters of a field mapping sent as JSON text


def item_hash(record: Record) -> bytes:
    """The identity of an item: every field (the same translation of another source is
    another item), as a canonical JSON text; a one-text item's hash is its text's."""
    if not record.fields:
        return text_hash(record.text)
    canonical = json.dumps(record.fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return text_hash(canonical)


def sentence_hash(document_digest: str, position: int) -> bytes:
    """A sentence item is its place in its document (the same sentence in two documents is
    two items: each is read, and labelled, in its own context). ``document_digest`` is the
    full SHA-256 of the document's text in hex, as it was before hashes were stored short
    (so a stored hash is still the first bytes of the one computed then)."""
    return text_hash(f"sentence:{document_digest}:{position}")


def field_columns(shape: Shape, mapping: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    """(field, column) for each of the project's fields: as ``mapping`` says, else the
    column named like the field. Invalid names a mapped field the project does not have."""
    mapping = dict(mapping or {})
    unknown = [name for name in mapping if name not in shape.fields]
    if unknown:
        raise Invalid(
            f"fields: the project has no field {unknown[0]!r}; its fields are: "
            + ", ".join(shape.fields)
        )
    return tuple((name, mapping.get(name, name)) for name in shape.fields)


def parse_mapping(value: str | None) -> dict[str, str] | None:
    """A field mapping sent as a JSON object of field -> column; Invalid says what is wrong."""
    if value is None or not value.strip():
        return None
    if len(value) > MAX_MAPPING:
        raise Invalid(f"fields: at most {MAX_MAPPING} characters")
    try:
        mapping = json.loads(value)
    except ValueError:
        mapping = None
    if not isinstance(mapping, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.strip() and "\x00" not in v
        for k, v in mapping.items()
    ):
        raise Invalid('fields: a JSON object of field to column, e.g. {"source": "src"}')
    return {k: v.strip() for k, v in mapping.items()}


def field_rows(
    records: list[tuple[bytes, Record, int]],
) -> list[tuple[Any, ...]]:
    """Staged rows (``staging.SHAPED_COLUMNS``) of (hash, record, random key) triples."""
    return [
        (
            r.row,
            r.line,
            digest,
            r.external_id,
            r.text,
            key,
            json.dumps(list(r.labels)) if r.labels else None,
            json.dumps(r.fields, ensure_ascii=False) if r.fields else None,
            r.correction,
        )
        for digest, r, key in records
    ]


def sentence_rows(
    record: Record, document_digest: str, first_row: int, key: Any
) -> list[tuple[Any, ...]]:
    """Staged rows (``staging.SENTENCE_COLUMNS``) of one document's sentences; the first
    carries the document's text. ``document_digest``: the SHA-256 of its text in hex;
    ``key(hash)`` is the random key of a sentence."""
    if record.labels:
        refuse(
            record,
            "a document takes no label (its sentences are labelled); "
            "import it without the label column",
        )
    spans = split(record.text)
    if len(spans) > MAX_SENTENCES:
        refuse(record, f"over {MAX_SENTENCES} sentences; split the document")
    rows = []
    for position, (start, end) in enumerate(spans):
        digest = sentence_hash(document_digest, position)
        first = position == 0
        rows.append(
            (
                first_row + position,
                record.line,
                digest,
                None,
                record.text[start:end],
                key(digest),
                None,
                hash_of_hex(document_digest),
                record.external_id if first else None,
                record.text if first else None,
                len(spans),
                position,
                start,
                end,
            )
        )
    return rows


class Documents:
    """Stages the documents of a sentence-selection import, chunk by chunk: a document the
    project or the file already has (same text) is skipped, a repeated or taken id refused."""

    def __init__(self, conn: Connection, project_id: int, key: Callable[[bytes], int]) -> None:
        self.conn, self.project_id, self._key = conn, project_id, key
        self.staged = 0  # documents staged
        self.skipped = 0  # documents the project (or the file, earlier) had
        self._seen: set[bytes] = set()
        self._ids: set[str] = set()
        self._next_row = 1

    def add(self, chunk: list[Record]) -> None:
        digests = [hashlib.sha256(r.text.encode("utf-8")).hexdigest() for r in chunk]
        hashes = [hash_of_hex(digest) for digest in digests]
        known = self._in_project(Document.text_hash, hashes)
        ids = [r.external_id for r in chunk if r.external_id is not None]
        taken = self._in_project(Document.external_id, ids) if ids else set()
        rows: list[tuple[Any, ...]] = []
        for record, digest, stored in zip(chunk, digests, hashes, strict=True):
            if stored in known or stored in self._seen:
                self.skipped += 1
                continue
            check_id(record, self._ids, taken)
            self._seen.add(stored)
            staged = sentence_rows(record, digest, self._next_row, self._key)
            self._next_row += len(staged)
            self.staged += 1
            rows += staged
        staging.add(self.conn, rows, staging.SENTENCE_COLUMNS)

    def _in_project(
        self, column: InstrumentedAttribute[Any], values: list[str] | list[bytes]
    ) -> set[Any]:
        stmt = select(column).where(
            Document.project_id == self.project_id, staging.among(self.conn, column, values)
        )
        return set(self.conn.scalars(stmt))
