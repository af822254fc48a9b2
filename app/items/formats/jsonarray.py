"""JSON arrays of objects, streamed by ijson so that memory stays flat whatever the file size.

Only the fields a record needs are built; the rest of each object is skipped unbuilt.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from types import ModuleType
from typing import Any, BinaryIO

import ijson

from app.items.formats.base import (
    SAMPLE_ROWS,
    BadValue,
    FileFormat,
    ImportFormatError,
    Preview,
    Problem,
    ReadOptions,
    ReadProblem,
    Record,
    fail,
    objects_preview,
)
from app.items.formats.fields import json_record
from app.items.formats.source import Source

Events = Iterator[tuple[str, Any]]

_MAX_JSON_DEPTH = 64
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


@cache
def ijson_backend() -> ModuleType:
    """ijson's C backend (yajl2_c) when it is installed, else its best available one."""
    backend: ModuleType
    try:
        backend = ijson.get_backend("yajl2_c")
    except ImportError:
        backend = ijson
    return backend


def _json_events(source: Source) -> Events:
    """ijson's events, lazily: its reader peeks at the stream when called, and a bad first
    byte must raise where the first event is read (``_expect_array`` names it)."""
    yield from ijson_backend().basic_parse(source, use_float=True)


def read(stream: BinaryIO, options: ReadOptions) -> Iterator[Record]:
    """Stream the records of a file holding one JSON array of objects."""
    source = Source(stream, surrogate_escapes=True)
    events = _json_events(source)
    named = (column for _, column in options.fields)
    keys = (options.text_field, options.label_field, options.id_field, options.correction_field)
    fallbacks = (options.label_fallback, options.id_fallback)
    wanted = frozenset(f for f in (*keys, *fallbacks, *named) if f)
    _expect_array(events, source)
    row = 0
    try:
        for event, value in events:
            if event == "end_array":
                break
            record = json_record(_read_item(events, event, value, wanted), options, row + 1)
            row += 1
            yield record
    except (Problem, ijson.JSONError) as exc:
        fail(_describe_json_error(exc), row + 1)
    _expect_end(events)
    if row == 0:
        raise ImportFormatError("the file has no data rows")


def _expect_array(events: Events, source: Source) -> None:
    """Read the opening bracket of the top-level array."""
    try:
        event = next(events)[0]
    except (Problem, ijson.JSONError) as exc:
        if not source.has_content and not isinstance(exc, ReadProblem):
            raise ImportFormatError("the file is empty") from None
        fail(_describe_json_error(exc), None)
    if event != "start_array":
        kind = _JSON_EVENT_TYPES.get(event, "a value")
        hint = " (one object per line is JSON Lines: name it .jsonl)" if kind == "an object" else ""
        raise ImportFormatError(
            f"expected a JSON array of objects, but the file holds {kind}{hint}"
        )


def _expect_end(events: Events) -> None:
    """Check that nothing but whitespace follows the array (the parser raises if it does)."""
    try:
        for _ in events:
            pass
    except (Problem, ijson.JSONError) as exc:
        fail(f"after the closing ]: {_describe_json_error(exc)}", None)


def _describe_json_error(exc: Exception) -> str:
    """A one-line description of a parser error (yajl's has the text around it on more lines)."""
    if isinstance(exc, Problem):
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
    if isinstance(exc, BadValue):
        return Problem(f'field "{key}": {exc}')
    problem = None if isinstance(exc, Problem) else _not_finite(*_parser_message(exc))
    return exc if problem is None else Problem(f'field "{key}": {problem}')


def _read_item(events: Events, event: str, value: Any, wanted: frozenset[str]) -> dict[str, Any]:
    """Read one array item, which must be an object; keep only the `wanted` keys."""
    if event != "start_map":
        raise Problem(f"expected a JSON object, got {_JSON_EVENT_TYPES.get(event, 'a value')}")
    return _read_map(events, 2, wanted)


def _read_value(events: Events, event: str, value: Any, depth: int) -> Any:
    """Build the value that starts with (`event`, `value`), found at nesting level `depth`."""
    if event == "start_map":
        return _read_map(events, depth + 1)
    if event == "start_array":
        return _read_list(events, depth + 1)
    return value


def _read_map(events: Events, depth: int, wanted: frozenset[str] | None = None) -> dict[str, Any]:
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
        except (Problem, ijson.JSONError) as exc:
            if wanted is None:
                raise
            raise _in_field(key, exc) from None
    return built


def _read_list(events: Events, depth: int) -> list[Any]:
    _check_depth(depth)
    built: list[Any] = []
    for event, value in events:
        if event == "end_array":
            break
        built.append(_read_value(events, event, value, depth))
    return built


def _skip_value(events: Events, event: str, depth: int) -> None:
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
        raise Problem(f"the JSON is nested more than {_MAX_JSON_DEPTH} levels deep")


def preview(text: str, complete: bool) -> Preview:
    """The first objects found in the text, each decoded from its opening brace."""
    decoder = json.JSONDecoder()
    start = text.find("{")
    found: list[dict[str, object]] = []
    total = 0
    while start != -1 and (complete or len(found) < SAMPLE_ROWS):
        try:
            value, end = decoder.raw_decode(text, start)
        except ValueError:
            complete = False
            break
        if isinstance(value, dict):
            total += 1
            if len(found) < SAMPLE_ROWS:
                found.append(value)
        start = text.find("{", end)
    return objects_preview(found, "JSON array", total if complete else None)


JSON_ARRAY = FileFormat(name="json", extensions=(".json",), read=read, preview=preview)
