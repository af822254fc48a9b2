"""The contract every upload format keeps, and the types its readers, previews and writers share.

A format is a :class:`FileFormat`: its name, the file extensions that name it, a streaming
reader, a preview of the first rows and, when the format can be exported, a writer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, NoReturn, TypedDict

# What the exports call the id and (multi-label JSON Lines) the labels: read when a file has no
# "id" / "label" column and the import names none, so that an export imports back.
EXPORT_ID = "external_id"
EXPORT_LABELS = "labels"
MIN_RECORD_LIMIT = 8 * 1024 * 1024  # longest line or field read, whatever max_text_chars is
PREVIEW_ROWS = 10  # rows the preview shows
SAMPLE_ROWS = 100  # rows a preview reads, to guess the columns from


class ImportFormatError(ValueError):
    """A problem with the uploaded file; str(e) is the user-facing message."""

    def __init__(self, message: str, *, row: int | None = None, status_code: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.row = row
        self.status_code = status_code


@dataclass(frozen=True, slots=True)
class Record:
    """One data record of an upload, validated but not yet matched to the project."""

    row: int  # 1-based number of the data record (header and blank lines not counted)
    text: str
    labels: tuple[str, ...]  # () when the row has no label; 1 element for single-label
    external_id: str | None
    # A project with named fields: every field's text (``text`` is the primary field's).
    fields: dict[str, str] | None = None
    correction: str | None = None  # translation review: a corrected translation, with a label
    # The line the record starts on (None where the format has no lines per record: a JSON
    # array); where it is, not what it is, so records compare without it.
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """Which fields of a record to read, and how strictly."""

    text_field: str
    label_field: str | None
    id_field: str | None
    label_required: bool
    id_required: bool
    multi_label: bool
    max_text_chars: int
    # A project with named fields: (field, column) pairs, every column required.
    fields: tuple[tuple[str, str], ...] = ()
    correction_field: str | None = None  # read when present (translation review)
    # Read instead of label_field / id_field when a file has not those but these.
    label_fallback: str | None = None
    id_fallback: str | None = None

    @property
    def record_limit(self) -> int:
        """Longest line (CSV characters, JSONL bytes) or CSV field that is read at all."""
        return max(MIN_RECORD_LIMIT, 8 * self.max_text_chars)


@dataclass(frozen=True)
class Preview:
    """The columns and first rows of an upload, for the field-mapping form."""

    columns: list[str]
    rows: list[list[str]]  # up to SAMPLE_ROWS
    kind: str = ""  # how the file is laid out: "semicolon-separated", "JSON Lines"
    total: int | None = None  # every data row, when the preview read the whole file
    encoding: str = "UTF-8"  # as people name it (sniff.encoding_name)

    @property
    def description(self) -> str:
        """What the preview says the file is: "semicolon-separated, UTF-8"."""
        return ", ".join(part for part in (self.kind, self.encoding) if part)


class ExportRow(TypedDict):
    """One labelled item of an export, as the export query reads it."""

    item_id: int
    external_id: str | None
    text: str
    labels: list[str]
    annotator: str | None
    source: str
    annotated_at: str  # ISO 8601
    # How the item's label came about: individual, consensus, adjudicated, or (no final
    # label yet) disagreement, pending; None in an annotator's own-rows export.
    outcome: str | None
    final_labels: list[str] | None  # the item's final label(s): what training uses
    # Task shapes: every named field (None for one text), the annotation's correction, and a
    # sentence's document: {"document_id", "document_external_id", "position", "start", "end"}.
    fields: dict[str, str] | None
    correction: str | None
    document: dict[str, Any] | None


Reader = Callable[[BinaryIO, ReadOptions], Iterator[Record]]
# the decoded start of the file, and whether it is the whole file -> its first rows
Previewer = Callable[[str, bool], Preview]
Writer = Callable[[Iterable[ExportRow], bool], Iterator[str]]  # rows, multi_label -> lines


@dataclass(frozen=True)
class FileFormat:
    """One upload format: how it is named, read, previewed and (optionally) written."""

    name: str
    extensions: tuple[str, ...]  # lower case, with the dot: (".csv",)
    read: Reader  # stream validated records in file order; raise ImportFormatError
    preview: Previewer  # columns and up to SAMPLE_ROWS rows; never raises
    write: Writer | None = None  # export lines (a header first, if any); None: not exportable
    # Whether a file that is not UTF-8 may be in a legacy encoding (sniffed, then transcoded):
    # spreadsheets save CSV in the Windows code page; JSON is UTF-8 by its RFC (8259).
    legacy_encodings: bool = False


class Problem(Exception):
    """A problem with one record; the reader that catches it adds where it is."""


class ReadProblem(Problem):
    """Found while reading: it is on the line being read, maybe past the row's first line."""


class BadValue(ReadProblem):
    """A value no database can hold (a lone surrogate); the JSON reader names its field."""


def where(row: int | None, line: int | None = None) -> str:
    """Where a problem is, as every import error says it: "row 2 (line 3)", "row 2", "line 3"."""
    place = f"row {row}" if row is not None else ""
    if line is not None:
        place = f"{place} (line {line})" if place else f"line {line}"
    return place


def located(problem: object, row: int | None, line: int | None = None) -> str:
    """The user-facing message of ``problem``, prefixed with where it is: the one formatter
    of every import error, from the readers and from the checks after them."""
    place = where(row, line)
    return f"{place}: {problem}" if place else str(problem)


def fail(problem: object, row: int | None, line: int | None = None) -> NoReturn:
    """Raise the user-facing error for `problem`, prefixed with where it is."""
    raise ImportFormatError(located(problem, row, line), row=row) from None


def unsupported(message: str) -> NoReturn:
    raise ImportFormatError(message, status_code=415)


def objects_preview(objects: list[dict[str, object]], kind: str, total: int | None) -> Preview:
    """A preview of JSON objects: every key seen is a column, in order of first appearance."""
    columns: list[str] = []
    for obj in objects:
        columns += [key for key in obj if key not in columns]
    rows = [[_cell(obj.get(c)) for c in columns] for obj in objects]
    return Preview(columns, rows, kind=kind, total=total)


def shaped_row(row: ExportRow) -> dict[str, Any] | None:
    """The keys a row of a shaped project has instead of ``text`` and ``source``: each field
    under its own name (so the export imports back), the annotation's source as
    ``label_source`` (a field may be called ``source``), the correction, and a sentence's
    place in its document; None for a one-text row, exported as before."""
    if row["fields"] is None and row["document"] is None and row["correction"] is None:
        return None
    out: dict[str, Any] = {"item_id": row["item_id"], EXPORT_ID: row["external_id"]}
    out |= row["fields"] or {"text": row["text"]}
    out |= {"label_source": row["source"], "correction": row["correction"]}
    out |= row["document"] or {}
    return out


def _cell(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)
