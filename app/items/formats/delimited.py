"""CSV and TSV: one header row naming the columns, then one record per row.

The two differ only in the delimiter their name promises; the file's own (comma, semicolon,
tab or pipe) is sniffed from its start. Only CSV is exported, with spreadsheet formulas
neutralised (OWASP CSV injection); a CSV import takes exactly that neutralising quote off
again, so that an export imports back as it was.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any, BinaryIO, Protocol, TextIO

from app.items.formats.base import (
    EXPORT_ID,
    SAMPLE_ROWS,
    ExportRow,
    FileFormat,
    ImportFormatError,
    Preview,
    Problem,
    ReadOptions,
    ReadProblem,
    Record,
    fail,
    shaped_row,
)
from app.items.formats.fields import (
    build_record,
    clean_labels,
    key_of,
    optional_field,
    strip_or_none,
)
from app.items.formats.sniff import delimiter_name, delimiter_of
from app.items.formats.source import CHUNK_BYTES, Source

EXPORT_COLUMNS = (
    "item_id",
    EXPORT_ID,
    "text",
    "label",
    "annotator",
    "source",
    "annotated_at",
    "outcome",  # how the item's final label came about (app.items.export)
    "final_label",
)
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class _Columns:
    names: tuple[str, ...]
    text: int
    label: int | None
    id: int | None
    extra: tuple[tuple[str, int], ...] = ()  # named fields' and correction's columns

    @property
    def read(self) -> tuple[int, ...]:
        """The columns a record is built from."""
        found = (self.text, self.label, self.id, *(index for _, index in self.extra))
        return tuple(index for index in found if index is not None)


class _RowReader(Protocol):
    """What the parser uses of a csv.reader."""

    line_num: int

    def __iter__(self) -> Iterator[list[str]]: ...

    def __next__(self) -> list[str]: ...


# --- read ------------------------------------------------------------------------------------


def read(
    stream: BinaryIO, options: ReadOptions, *, delimiter: str, guarded: bool = False
) -> Iterator[Record]:
    """Stream the records of a delimited file, the first non-blank row being the header;
    ``guarded``: the cells may carry the export's formula guard (``unescape_formula``)."""
    source = Source(stream, legacy_encodings=True)
    delimiter = delimiter_of(source.head_text(), delimiter)
    _raise_csv_field_limit(options.record_limit)
    text = io.TextIOWrapper(io.BufferedReader(source, CHUNK_BYTES), "utf-8", newline="")
    reader = csv.reader(
        _bounded_lines(text, options.record_limit), delimiter=delimiter, strict=True
    )
    columns = _read_header(reader, options)
    guarded_columns = columns.read if guarded else ()
    row = 0
    while (next_row := _next_row(reader, options, row + 1)) is not None:
        line, cells = next_row
        for index in guarded_columns:
            if index < len(cells):
                cells[index] = unescape_formula(cells[index])
        try:
            record = _record(cells, columns, options, row + 1, line)
        except Problem as exc:
            fail(exc, row + 1, line)
        if record is not None:
            row += 1
            yield record
    if row == 0:
        raise ImportFormatError("the file has no data rows")


def _next_row(
    reader: _RowReader, options: ReadOptions, row: int | None
) -> tuple[int, list[str]] | None:
    """Read the next row and the line it starts on; None at the end of the file."""
    start = reader.line_num + 1
    try:
        cells = next(reader, None)
    except (Problem, csv.Error) as exc:
        line = reader.line_num + 1 if isinstance(exc, ReadProblem) else start
        fail(_describe_csv_error(exc, options), row, line)
    return None if cells is None else (start, cells)


def _raise_csv_field_limit(limit: int) -> None:
    """Let fields up to `limit` through, so that too-long texts get our own message.

    The limit is process-wide in the csv module, so it is only ever raised, never lowered.
    """
    if csv.field_size_limit() < limit:
        csv.field_size_limit(limit)


def _bounded_lines(text: TextIO, limit: int) -> Iterator[str]:
    """Yield the lines of `text`, refusing one longer than `limit` before it is all in memory."""
    for line in iter(partial(text.readline, limit), ""):
        if len(line) >= limit and not line.endswith(("\n", "\r")):
            raise ReadProblem(f"the line is longer than {limit} characters")
        yield line


def _read_header(reader: _RowReader, options: ReadOptions) -> _Columns:
    """Read the first non-blank line as the header and find the columns in it."""
    while True:
        next_row = _next_row(reader, options, None)
        if next_row is None:
            raise ImportFormatError("the file is empty")
        if any(cell.strip() for cell in next_row[1]):
            break
    names = tuple(cell.strip() for cell in next_row[1])
    _check_unique(names)
    extra = tuple((column, _column(names, column, name)) for name, column in options.fields)
    if options.correction_field in names:
        extra += ((options.correction_field, names.index(options.correction_field)),)
    label = key_of(names, options.label_field, options.label_fallback)
    external_id = key_of(names, options.id_field, options.id_fallback)
    return _Columns(
        names=names,
        text=_column(names, options.text_field),
        label=_optional_column(names, label, options.label_required),
        id=_optional_column(names, external_id, options.id_required),
        extra=extra,
    )


def _check_unique(names: tuple[str, ...]) -> None:
    seen: set[str] = set()
    for name in names:
        if name and name in seen:
            raise ImportFormatError(f'the header has the column "{name}" twice')
        seen.add(name)


def _column(names: tuple[str, ...], field: str, of: str | None = None) -> int:
    """Index of the column called `field` (for the project's field `of`); ImportFormatError
    when there is none."""
    if field in names:
        return names.index(field)
    listed = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
    what = f" for the project's field {of}" if of is not None and of != field else ""
    raise ImportFormatError(f'missing column "{field}"{what}; the file\'s columns are: {listed}')


def _optional_column(names: tuple[str, ...], field: str | None, required: bool) -> int | None:
    """Index of the column called `field`; None when absent and not required."""
    if field is None or (field not in names and not required):
        return None
    return _column(names, field)


def _record(
    cells: list[str], columns: _Columns, options: ReadOptions, row: int, line: int
) -> Record | None:
    """Build the record of one CSV row, starting on ``line``; None for a blank row."""
    if len(cells) != len(columns.names):
        return _ragged_record(cells, columns, options, row, line)
    text = cells[columns.text]
    if (not text or text.isspace()) and all(not cell or cell.isspace() for cell in cells):
        return None
    labels = _labels(cells[columns.label], options) if columns.label is not None else ()
    external_id = strip_or_none(cells[columns.id]) if columns.id is not None else None
    if columns.extra:  # a project with named fields: keep off the one-text path
        values = {column: cells[index] for column, index in columns.extra}
        return build_record(row, text, labels, external_id, options, values, line=line)
    return build_record(row, text, labels, external_id, options, line=line)


def _ragged_record(
    cells: list[str], columns: _Columns, options: ReadOptions, row: int, line: int
) -> Record | None:
    """Build the record of a row with more or fewer fields than the header."""
    if all(not cell or cell.isspace() for cell in cells):
        return None
    if len(cells) > len(columns.names):
        raise Problem(f"{len(cells)} fields, but the header has {len(columns.names)} columns")
    present = {name: cells[index] for index, name in enumerate(columns.names[: len(cells)])}
    if options.text_field not in present:
        raise Problem(f'missing field "{options.text_field}"')
    label = optional_field(present, _name(columns, columns.label), options.label_required)
    external_id = optional_field(present, _name(columns, columns.id), options.id_required)
    labels = _labels(label, options) if label else ()
    text = present[options.text_field]
    external_id = strip_or_none(external_id)
    return build_record(row, text, labels, external_id, options, present, line=line)


def _name(columns: _Columns, index: int | None) -> str | None:
    return None if index is None else columns.names[index]


def _labels(cell: str, options: ReadOptions) -> tuple[str, ...]:
    """The labels of a CSV cell: one, or for multi-label projects the "|"-separated list."""
    if options.multi_label:
        return clean_labels(cell.split("|"))
    label = cell.strip()
    return (label,) if label else ()


def _describe_csv_error(exc: Exception, options: ReadOptions) -> str:
    if not isinstance(exc, csv.Error):
        return str(exc)
    message = str(exc)
    if "field larger than field limit" in message:
        limit = options.record_limit
        return f"a field is longer than {limit} characters (is a quote left open?)"
    if "unexpected end of data" in message:
        return "unterminated quoted field (a quote is opened but never closed)"
    return f"a quoted field must end with a quote; double any quote inside it ({message})"


# --- preview ---------------------------------------------------------------------------------


def preview(text: str, complete: bool, *, delimiter: str) -> Preview:
    """The header and up to SAMPLE_ROWS rows, read with the sniffed delimiter; the last line
    of a partial start is left out (it may be cut off), every row of a whole file is kept."""
    delimiter = delimiter_of(text, delimiter)
    lines = text.splitlines(keepends=True)
    if not complete and len(lines) > 1:
        lines = lines[:-1]
    rows: list[list[str]] = []
    total = 0
    try:
        for row in csv.reader(io.StringIO("".join(lines)), delimiter=delimiter):
            if not any(cell.strip() for cell in row):
                continue
            total += 1
            if len(rows) <= SAMPLE_ROWS:
                rows.append(row)
            elif not complete:
                break
    except csv.Error:
        complete = False  # the import names the row
    if not rows:
        return Preview([], [], kind=delimiter_name(delimiter), total=0 if complete else None)
    header = [cell.strip() for cell in rows[0]]
    return Preview(
        header, rows[1:], kind=delimiter_name(delimiter), total=total - 1 if complete else None
    )


# --- write -----------------------------------------------------------------------------------


def escape_formula(value: str) -> str:
    """Neutralise spreadsheet formulas (OWASP CSV injection): prefix a quote to a value that
    starts with a formula character, or with quotes and then one, so that
    ``unescape_formula`` knows exactly which values have it."""
    return "'" + value if value.lstrip("'").startswith(FORMULA_PREFIXES) else value


def unescape_formula(value: str) -> str:
    """The value ``escape_formula`` was given: a quote less on a value that starts with
    quotes and then a formula character (one it escaped); any other value as it is."""
    if value.startswith("'") and value.lstrip("'").startswith(FORMULA_PREFIXES):
        return value[1:]
    return value


def write_csv(rows: Iterable[ExportRow], multi_label: bool) -> Iterator[str]:
    """The header, then one line per row; several labels are joined with "|". A shaped
    project's rows (``shaped_row``) have their own columns, named from the first row."""
    it = iter(rows)
    first = next(it, None)
    if first is not None and shaped_row(first) is not None:
        yield from _write_shaped(itertools.chain([first], it))
        return
    yield _csv_line(list(EXPORT_COLUMNS))
    for row in itertools.chain([first] if first is not None else [], it):
        values = [
            row["item_id"],
            escape_formula(row["external_id"] or ""),
            escape_formula(row["text"]),
            escape_formula("|".join(row["labels"])),
            escape_formula(row["annotator"] or ""),
            row["source"],
            row["annotated_at"],
            row["outcome"] or "",
            escape_formula("|".join(row["final_labels"] or [])),
        ]
        yield _csv_line(values)


def _write_shaped(rows: Iterable[ExportRow]) -> Iterator[str]:
    header: list[str] = []
    for row in rows:
        out = shaped_row(row) or {}
        out["label"] = "|".join(row["labels"])
        out["annotator"] = row["annotator"] or ""
        out["annotated_at"], out["outcome"] = row["annotated_at"], row["outcome"] or ""
        out["final_label"] = "|".join(row["final_labels"] or [])
        if not header:
            header = list(out)
            yield _csv_line(header)
        values = [out.get(name) for name in header]
        yield _csv_line([escape_formula(v) if isinstance(v, str) else v for v in values])


def _csv_line(values: list[Any]) -> str:
    """One CSV record, RFC 4180: CRLF-terminated, so a field with a bare CR is quoted too."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(values)
    return buffer.getvalue()


CSV = FileFormat(
    name="csv",
    extensions=(".csv",),
    read=partial(read, delimiter=",", guarded=True),
    preview=partial(preview, delimiter=","),
    write=write_csv,
    legacy_encodings=True,
)
TSV = FileFormat(
    name="tsv",
    extensions=(".tsv", ".tab"),
    read=partial(read, delimiter="\t"),
    preview=partial(preview, delimiter="\t"),
    legacy_encodings=True,
)
