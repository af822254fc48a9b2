"""Stream uploaded CSV, TSV, JSONL and JSON-array files into validated records.

Pure Python over a binary stream: memory stays flat whatever the file size.
"""

import codecs
import csv
import io
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache, partial
from pathlib import PurePath
from types import ModuleType
from typing import Any, BinaryIO, Literal, NoReturn, Protocol, TextIO

import ijson

from app import jsonbody
from app.items import surrogates

Format = Literal["csv", "tsv", "jsonl", "json"]
FORMATS: tuple[str, ...] = ("csv", "tsv", "jsonl", "json")

_BY_NAME: dict[str, Format] = {"csv": "csv", "tsv": "tsv", "jsonl": "jsonl", "json": "json"}
_BY_EXTENSION: dict[str, Format] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
}
_CHUNK_BYTES = 64 * 1024
_MIN_RECORD_LIMIT = 8 * 1024 * 1024  # longest line or field read, whatever max_text_chars is
_MAX_JSON_DEPTH = 64
_UTF8_BOM = codecs.BOM_UTF8
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_SIGNATURES = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF-": "a PDF document",
    b"PK\x03\x04": "a ZIP archive (an Excel .xlsx file?)",
    b"\xd0\xcf\x11\xe0": "an Office document (an Excel .xls file?)",
    b"\x1f\x8b": "a gzip archive",
}
_CONTAINER_STARTS = frozenset(("start_map", "start_array"))
# yajl's errors at NaN, Infinity and -Infinity, told apart from other lexical errors by the
# text around them
_NON_FINITE_ERRORS = frozenset(
    ("invalid char in json text", "malformed number, a digit is required after the minus sign")
)
_NON_FINITE_LITERAL = re.compile(r"(?<![\w\"])-?(?:NaN|Infinity)(?![\w\"])")
_JSON_EVENT_TYPES = {
    "start_map": "an object",
    "start_array": "an array",
    "string": "a string",
    "number": "a number",
    "boolean": "a boolean",
    "null": "null",
}


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


@dataclass(frozen=True, slots=True)
class _Options:
    text_field: str
    label_field: str | None
    id_field: str | None
    label_required: bool
    id_required: bool
    multi_label: bool
    max_text_chars: int

    @property
    def record_limit(self) -> int:
        """Longest line (CSV characters, JSONL bytes) or CSV field that is read at all."""
        return max(_MIN_RECORD_LIMIT, 8 * self.max_text_chars)


@dataclass(frozen=True, slots=True)
class _Columns:
    names: tuple[str, ...]
    text: int
    label: int | None
    id: int | None


class _RowReader(Protocol):
    """What the parser uses of a csv.reader."""

    line_num: int

    def __iter__(self) -> Iterator[list[str]]: ...

    def __next__(self) -> list[str]: ...


class _Problem(Exception):
    """A problem with one record; the reader that catches it adds where it is."""


class _ReadProblem(_Problem):
    """Found while reading: it is on the line being read, maybe past the row's first line."""


class _BadValue(_ReadProblem):
    """A value no database can hold (a lone surrogate); the JSON reader names its field."""


def detect_format(filename: str | None, explicit: str | None = None) -> Format:
    """Return the upload's format: `explicit` if given, else the one its file extension names."""
    if explicit and explicit.strip():
        name = explicit.strip().lower()
        if name in _BY_NAME:
            return _BY_NAME[name]
        _unsupported(f'unsupported format "{explicit.strip()}"; use one of: {", ".join(FORMATS)}')
    if not filename:
        _unsupported(f"the upload has no file name; choose its format ({', '.join(FORMATS)})")
    suffix = PurePath(filename).suffix.lower()
    if suffix in _BY_EXTENSION:
        return _BY_EXTENSION[suffix]
    extensions = ", ".join(_BY_EXTENSION)
    _unsupported(f'cannot tell the format of "{filename}"; name it {extensions} or choose a format')


def iter_records(
    stream: BinaryIO,
    fmt: Format,
    *,
    text_field: str = "text",
    label_field: str | None = "label",
    id_field: str | None = "id",
    label_field_required: bool = False,
    id_field_required: bool = False,
    multi_label: bool = False,
    max_text_chars: int = 100_000,
) -> Iterator[Record]:
    """Stream validated records out of an uploaded file, in file order.

    A generator: nothing is read until iteration starts, and the caller owns (and closes)
    `stream`. A required field must be present (a CSV column, a key of each JSON object); its
    value may still be empty. Raises ImportFormatError, naming the row, at the first problem.
    """
    if fmt not in _BY_NAME:
        _unsupported(f'unsupported format "{fmt}"; use one of: {", ".join(FORMATS)}')
    options = _Options(
        text_field=text_field,
        label_field=label_field,
        id_field=id_field,
        label_required=label_field_required and label_field is not None,
        id_required=id_field_required and id_field is not None,
        multi_label=multi_label,
        max_text_chars=max_text_chars,
    )
    source = _Source(stream, surrogate_escapes=fmt == "json")
    readers: dict[str, Callable[[_Source, _Options], Iterator[Record]]] = {
        "csv": partial(_iter_delimited, delimiter=","),
        "tsv": partial(_iter_delimited, delimiter="\t"),
        "jsonl": _iter_jsonl,
        "json": _iter_json,
    }
    yield from readers[fmt](source, options)


def _unsupported(message: str) -> NoReturn:
    raise ImportFormatError(message, status_code=415)


def _fail(problem: object, row: int | None, line: int | None = None) -> NoReturn:
    """Raise the user-facing error for `problem`, prefixed with where it is."""
    where = f"row {row}" if row is not None else ""
    if line is not None:
        where = f"{where} (line {line})" if where else f"line {line}"
    message = f"{where}: {problem}" if where else str(problem)
    raise ImportFormatError(message, row=row) from None


# --- bytes -----------------------------------------------------------------------------------


class _Source(io.RawIOBase):
    """The upload as a raw stream: BOM stripped, ending just before the first bad byte.

    The bad byte (invalid UTF-8 or NUL) raises _ReadProblem on the read after the good bytes,
    so parsers meet it while reading the record that holds it, and can name that record.
    With ``surrogate_escapes`` (JSON read by ijson), a lone surrogate escape is a bad byte too.
    """

    def __init__(self, stream: BinaryIO, *, surrogate_escapes: bool = False) -> None:
        super().__init__()
        self._stream = stream
        self._surrogate_escapes = surrogate_escapes
        self._unchecked = _read_head(stream)
        self._offset = len(_UTF8_BOM) if self._unchecked.startswith(_UTF8_BOM) else 0
        self._unchecked = self._unchecked[self._offset :]
        self._ready = b""
        self._carry = b""
        self._error: _ReadProblem | None = None
        self._eof = False
        self.has_content = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._ready and self._error is None and not self._eof:
            self._fill()
        if not self._ready and self._error is not None:
            raise self._error
        size = min(len(buffer), len(self._ready))
        buffer[:size] = self._ready[:size]
        self._ready = self._ready[size:]
        return size

    def _fill(self) -> None:
        chunk = self._unchecked or self._stream.read(_CHUNK_BYTES)
        self._unchecked = b""
        self._eof = not chunk
        data = self._carry + chunk
        good, bad = _valid_utf8(data, final=self._eof)
        nul = data.find(b"\x00", 0, good)
        if nul >= 0:
            good = bad = nul
        if bad is not None:
            self._error = _ReadProblem(_bad_byte_message(data[bad], self._offset + bad))
        if self._surrogate_escapes:
            good = self._judge_escapes(data, good, final=self._eof or bad is not None)
        self._ready, self._carry = data[:good], data[good:]
        self.has_content = self.has_content or not (self._ready.isspace() or not self._ready)
        self._offset += good

    def _judge_escapes(self, data: bytes, good: int, *, final: bool) -> int:
        """How much of ``data[:good]`` to hand on; a lone surrogate escape is the error there."""
        judged, lone = surrogates.scan(data[:good], final=final)
        if lone is not None:
            code = surrogates.escape_at(data, lone)
            self._error = _BadValue(jsonbody.surrogate_problem(code))
        return judged


def _read_head(stream: BinaryIO) -> bytes:
    """Read the first chunk, refusing files that are UTF-16 or a known binary format."""
    head = b""
    while len(head) < 8:
        part = stream.read(_CHUNK_BYTES)
        if not part:
            break
        head += part
    if head.startswith(_UTF16_BOMS):
        raise ImportFormatError("the file is UTF-16; save it as UTF-8")
    for signature, kind in _SIGNATURES.items():
        if head.startswith(signature):
            raise ImportFormatError(f"the file is {kind}, not text; upload CSV, TSV, JSONL or JSON")
    return head


def _valid_utf8(data: bytes, *, final: bool) -> tuple[int, int | None]:
    """Return the length of the valid UTF-8 prefix and the offset of an invalid byte, if any."""
    try:
        return codecs.utf_8_decode(data, "strict", final)[1], None
    except UnicodeDecodeError as exc:
        return exc.start, exc.start


def _bad_byte_message(byte: int, offset: int) -> str:
    if byte == 0:
        return f"the file contains a NUL byte (at byte {offset}); is it a binary file?"
    return f"the file is not valid UTF-8 (byte 0x{byte:02X} at byte {offset}); save it as UTF-8"


# --- CSV and TSV -----------------------------------------------------------------------------


def _iter_delimited(source: _Source, options: _Options, *, delimiter: str) -> Iterator[Record]:
    _raise_csv_field_limit(options.record_limit)
    text = io.TextIOWrapper(io.BufferedReader(source, _CHUNK_BYTES), "utf-8", newline="")
    reader = csv.reader(
        _bounded_lines(text, options.record_limit), delimiter=delimiter, strict=True
    )
    columns = _read_header(reader, options, delimiter)
    row = 0
    while (next_row := _next_row(reader, options, row + 1)) is not None:
        line, cells = next_row
        try:
            record = _csv_record(cells, columns, options, row + 1)
        except _Problem as exc:
            _fail(exc, row + 1, line)
        if record is not None:
            row += 1
            yield record
    if row == 0:
        raise ImportFormatError("the file has no data rows")


def _next_row(
    reader: _RowReader, options: _Options, row: int | None
) -> tuple[int, list[str]] | None:
    """Read the next row and the line it starts on; None at the end of the file."""
    start = reader.line_num + 1
    try:
        cells = next(reader, None)
    except (_Problem, csv.Error) as exc:
        line = reader.line_num + 1 if isinstance(exc, _ReadProblem) else start
        _fail(_describe_csv_error(exc, options), row, line)
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
            raise _ReadProblem(f"the line is longer than {limit} characters")
        yield line


def _read_header(reader: _RowReader, options: _Options, delimiter: str) -> _Columns:
    """Read the first non-blank line as the header and find the columns in it."""
    while True:
        next_row = _next_row(reader, options, None)
        if next_row is None:
            raise ImportFormatError("the file is empty")
        if any(cell.strip() for cell in next_row[1]):
            break
    names = tuple(cell.strip() for cell in next_row[1])
    _check_unique(names)
    return _Columns(
        names=names,
        text=_column(names, options.text_field, required=True, delimiter=delimiter),
        label=_column(names, options.label_field, options.label_required, delimiter),
        id=_column(names, options.id_field, options.id_required, delimiter),
    )


def _check_unique(names: tuple[str, ...]) -> None:
    seen: set[str] = set()
    for name in names:
        if name and name in seen:
            raise ImportFormatError(f'the header has the column "{name}" twice')
        seen.add(name)


def _column(
    names: tuple[str, ...], field: str | None, required: bool, delimiter: str
) -> int | None:
    """Index of the column called `field`; None when absent and not required."""
    if field is None:
        return None
    if field in names:
        return names.index(field)
    if not required:
        return None
    listed = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
    hint = _delimiter_hint(names, delimiter)
    raise ImportFormatError(f'missing column "{field}"; the file\'s columns are: {listed}{hint}')


def _delimiter_hint(names: tuple[str, ...], delimiter: str) -> str:
    if len(names) == 1 and delimiter == "," and "\t" in names[0]:
        return " (the file looks tab-separated: upload it as TSV)"
    if len(names) == 1 and delimiter == "\t" and "," in names[0]:
        return " (the file looks comma-separated: upload it as CSV)"
    return ""


def _csv_record(cells: list[str], columns: _Columns, options: _Options, row: int) -> Record | None:
    """Build the record of one CSV row; None for a blank row."""
    if len(cells) != len(columns.names):
        return _ragged_record(cells, columns, options, row)
    text = cells[columns.text]
    if (not text or text.isspace()) and all(not cell or cell.isspace() for cell in cells):
        return None
    labels = _csv_labels(cells[columns.label], options) if columns.label is not None else ()
    external_id = _strip_or_none(cells[columns.id]) if columns.id is not None else None
    return _record(row, text, labels, external_id, options)


def _ragged_record(
    cells: list[str], columns: _Columns, options: _Options, row: int
) -> Record | None:
    """Build the record of a row with more or fewer fields than the header."""
    if all(not cell or cell.isspace() for cell in cells):
        return None
    if len(cells) > len(columns.names):
        raise _Problem(f"{len(cells)} fields, but the header has {len(columns.names)} columns")
    present = {name: cells[index] for index, name in enumerate(columns.names[: len(cells)])}
    if options.text_field not in present:
        raise _Problem(f'missing field "{options.text_field}"')
    label = _optional_field(present, options.label_field, options.label_required)
    external_id = _optional_field(present, options.id_field, options.id_required)
    labels = _csv_labels(label, options) if label else ()
    return _record(row, present[options.text_field], labels, _strip_or_none(external_id), options)


def _csv_labels(cell: str, options: _Options) -> tuple[str, ...]:
    """The labels of a CSV cell: one, or for multi-label projects the "|"-separated list."""
    if options.multi_label:
        return _clean_labels(cell.split("|"))
    label = cell.strip()
    return (label,) if label else ()


def _describe_csv_error(exc: Exception, options: _Options) -> str:
    if not isinstance(exc, csv.Error):
        return str(exc)
    message = str(exc)
    if "field larger than field limit" in message:
        limit = options.record_limit
        return f"a field is longer than {limit} characters (is a quote left open?)"
    if "unexpected end of data" in message:
        return "unterminated quoted field (a quote is opened but never closed)"
    return f"a quoted field must end with a quote; double any quote inside it ({message})"


# --- JSON Lines ------------------------------------------------------------------------------


def _iter_jsonl(source: _Source, options: _Options) -> Iterator[Record]:
    lines = io.BufferedReader(source, _CHUNK_BYTES)
    limit = options.record_limit
    row = line = 0
    while True:
        line += 1
        try:
            raw = lines.readline(limit)
            if not raw:
                break
            if len(raw) >= limit and not raw.endswith(b"\n"):
                raise _Problem(f"the line is longer than {limit} bytes")
            if raw.isspace():
                continue
            record = _json_record(_load_json_line(raw), options, row + 1)
        except _Problem as exc:
            _fail(exc, row + 1, line)
        row += 1
        yield record
    if row == 0:
        raise ImportFormatError("the file is empty")


def _load_json_line(raw: bytes) -> Any:
    try:
        value = jsonbody.loads(raw.decode())
    except jsonbody.BadJSONValue as exc:
        field = f'field "{exc.path[0]}": ' if exc.path and isinstance(exc.path[0], str) else ""
        raise _Problem(f"{field}{exc.problem}") from None
    except json.JSONDecodeError as exc:
        raise _Problem(f"invalid JSON ({exc.msg} at character {exc.pos + 1})") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise _Problem(f"invalid JSON ({exc})") from None
    except RecursionError:
        raise _Problem("the JSON is nested too deeply") from None
    if not isinstance(value, dict):
        raise _Problem(f"expected a JSON object, got {_json_type(value)}")
    return value


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict | list):
        return "an object" if isinstance(value, dict) else "an array"
    return "a string" if isinstance(value, str) else "a number"


# --- JSON array ------------------------------------------------------------------------------


@cache
def _ijson_backend() -> ModuleType:
    """ijson's C backend (yajl2_c) when it is installed, else its best available one."""
    try:
        return ijson.get_backend("yajl2_c")
    except ImportError:
        return ijson


def _json_events(source: _Source) -> Iterator[tuple[str, Any]]:
    """ijson's events, lazily: its reader peeks at the stream when called, and a bad first
    byte must raise where the first event is read (``_expect_array`` names it)."""
    yield from _ijson_backend().basic_parse(source, use_float=True)


def _iter_json(source: _Source, options: _Options) -> Iterator[Record]:
    events = _json_events(source)
    wanted = frozenset(f for f in (options.text_field, options.label_field, options.id_field) if f)
    _expect_array(events, source)
    row = 0
    try:
        for event, value in events:
            if event == "end_array":
                break
            record = _json_record(_read_item(events, event, value, wanted), options, row + 1)
            row += 1
            yield record
    except (_Problem, ijson.JSONError) as exc:
        _fail(_describe_json_error(exc), row + 1)
    _expect_end(events)
    if row == 0:
        raise ImportFormatError("the file has no data rows")


def _expect_array(events: Iterator[tuple[str, Any]], source: _Source) -> None:
    """Read the opening bracket of the top-level array."""
    try:
        event = next(events)[0]
    except (_Problem, ijson.JSONError) as exc:
        if not source.has_content and not isinstance(exc, _ReadProblem):
            raise ImportFormatError("the file is empty") from None
        _fail(_describe_json_error(exc), None)
    if event != "start_array":
        kind = _JSON_EVENT_TYPES.get(event, "a value")
        hint = " (one object per line is JSON Lines: name it .jsonl)" if kind == "an object" else ""
        raise ImportFormatError(
            f"expected a JSON array of objects, but the file holds {kind}{hint}"
        )


def _expect_end(events: Iterator[tuple[str, Any]]) -> None:
    """Check that nothing but whitespace follows the array (the parser raises if it does)."""
    try:
        for _ in events:
            pass
    except (_Problem, ijson.JSONError) as exc:
        _fail(f"after the closing ]: {_describe_json_error(exc)}", None)


def _describe_json_error(exc: Exception) -> str:
    """A one-line description of a parser error (yajl's has the text around it on more lines)."""
    if isinstance(exc, _Problem):
        return str(exc)
    detail, around = _parser_message(exc)
    if detail in ("premature EOF", "Incomplete JSON content"):
        detail = "unexpected end of file"
    return _not_finite(detail, around) or f"invalid JSON ({detail})"


def _parser_message(exc: Exception) -> tuple[str, str]:
    """The first line of a parser error, and the file's text around the error (yajl's second)."""
    message = exc.args[0] if exc.args else ""
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    lines = str(message).split("\n")
    detail = lines[0].rstrip(".").removeprefix("parse error: ").removeprefix("lexical error: ")
    return detail, lines[1] if len(lines) > 1 else ""


def _not_finite(detail: str, around: str) -> str | None:
    """What yajl's errors for NaN, Infinity and numbers too large for a float mean."""
    if detail == "numeric (floating point) overflow":
        return "a number is too large for a float"
    if detail in _NON_FINITE_ERRORS and _NON_FINITE_LITERAL.search(around):
        return "NaN and Infinity are not JSON numbers"
    return None


def _in_field(key: str, exc: Exception) -> Exception:
    """``exc``, naming the field of the record it was found in when it is about a bad value."""
    if isinstance(exc, _BadValue):
        return _Problem(f'field "{key}": {exc}')
    problem = None if isinstance(exc, _Problem) else _not_finite(*_parser_message(exc))
    return exc if problem is None else _Problem(f'field "{key}": {problem}')


def _read_item(
    events: Iterator[tuple[str, Any]], event: str, value: Any, wanted: frozenset[str]
) -> dict[str, Any]:
    """Read one array item, which must be an object; keep only the `wanted` keys."""
    if event != "start_map":
        raise _Problem(f"expected a JSON object, got {_JSON_EVENT_TYPES.get(event, 'a value')}")
    return _read_map(events, 2, wanted)


def _read_value(events: Iterator[tuple[str, Any]], event: str, value: Any, depth: int) -> Any:
    """Build the value that starts with (`event`, `value`), found at nesting level `depth`."""
    if event == "start_map":
        return _read_map(events, depth + 1)
    if event == "start_array":
        return _read_list(events, depth + 1)
    return value


def _read_map(
    events: Iterator[tuple[str, Any]], depth: int, wanted: frozenset[str] | None = None
) -> dict[str, Any]:
    """Build an object; a record's own (``wanted`` given) names the field of a bad value."""
    _check_depth(depth)
    built: dict[str, Any] = {}
    for event, key in events:
        if event == "end_map":
            break
        try:
            value_event, value = next(events)
            if wanted is None or key in wanted:
                built[key] = _read_value(events, value_event, value, depth)
            else:
                _skip_value(events, value_event, depth)
        except (_Problem, ijson.JSONError) as exc:
            if wanted is None:
                raise
            raise _in_field(key, exc) from None
    return built


def _read_list(events: Iterator[tuple[str, Any]], depth: int) -> list[Any]:
    _check_depth(depth)
    built: list[Any] = []
    for event, value in events:
        if event == "end_array":
            break
        built.append(_read_value(events, event, value, depth))
    return built


def _skip_value(events: Iterator[tuple[str, Any]], event: str, depth: int) -> None:
    """Consume the value that starts with `event`, at nesting level `depth`, unbuilt."""
    if event not in _CONTAINER_STARTS:
        return
    level = 1
    _check_depth(depth + level)
    for inner, _ in events:
        if inner in _CONTAINER_STARTS:
            level += 1
            _check_depth(depth + level)
        elif inner in ("end_map", "end_array"):
            level -= 1
            if level == 0:
                return


def _check_depth(depth: int) -> None:
    if depth > _MAX_JSON_DEPTH:
        raise _Problem(f"the JSON is nested more than {_MAX_JSON_DEPTH} levels deep")


# --- fields ----------------------------------------------------------------------------------


def _json_record(item: Mapping[str, Any], options: _Options, row: int) -> Record:
    """Build the record of one JSON object."""
    field = options.text_field
    if field not in item:
        raise _Problem(f'missing field "{field}"')
    text = item[field]
    if not isinstance(text, str):
        raise _Problem(f'field "{field}" must be a string, not {_json_type(text)}')
    _check_no_nul(text, field)
    labels = _json_labels(item, options)
    external_id = _json_id(item, options)
    return _record(row, text, labels, external_id, options)


def _check_no_nul(value: str, field: str | None) -> None:
    """Refuse a NUL character, which JSON can escape as \\u0000 (databases refuse it)."""
    if "\x00" in value:
        raise _Problem(f'field "{field}" contains a NUL character (\\u0000)')


def _optional_field(item: Mapping[str, Any], field: str | None, required: bool) -> Any:
    """The value of an optional field; None when absent (an error when it is required)."""
    if field is None or field in item:
        return None if field is None else item[field]
    if required:
        raise _Problem(f'missing field "{field}"')
    return None


def _json_labels(item: Mapping[str, Any], options: _Options) -> tuple[str, ...]:
    field = options.label_field
    value = _optional_field(item, field, options.label_required)
    if value is None:
        return ()
    if isinstance(value, str):
        _check_no_nul(value, field)
        label = value.strip()
        return (label,) if label else ()
    if isinstance(value, list) and not options.multi_label:
        raise _Problem(f'field "{field}" is a list, but the project takes one label per item')
    if isinstance(value, list) and all(isinstance(label, str) for label in value):
        _check_no_nul("".join(value), field)
        return _clean_labels(value)
    expected = "a string or a list of strings" if options.multi_label else "a string"
    raise _Problem(f'field "{field}" must be {expected}, not {_json_type(value)}')


def _json_id(item: Mapping[str, Any], options: _Options) -> str | None:
    field = options.id_field
    value = _optional_field(item, field, options.id_required)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        _check_no_nul(value, field)
        return _strip_or_none(value)
    if value is None:
        return None
    raise _Problem(f'field "{field}" must be a string or an integer, not {_json_type(value)}')


def _clean_labels(values: list[str]) -> tuple[str, ...]:
    """Strip labels, drop empty ones and repeats, keep their order."""
    return tuple(dict.fromkeys(label for label in map(str.strip, values) if label))


def _strip_or_none(value: str | None) -> str | None:
    return (value.strip() or None) if value else None


def _record(
    row: int, text: str, labels: tuple[str, ...], external_id: str | None, options: _Options
) -> Record:
    """Check the text and build the record."""
    if len(text) > options.max_text_chars:
        raise _Problem(
            f"text is {len(text)} characters, over the limit of {options.max_text_chars}"
        )
    if not text or text.isspace():
        raise _Problem("empty text")
    return Record(row=row, text=text, labels=labels, external_id=external_id)
