"""Record validation shared by every format: the text, the label(s) and the id of one row."""

from __future__ import annotations

from collections.abc import Container, Mapping
from typing import Any

from app.items.formats.base import Problem, ReadOptions, Record


def build_record(
    row: int,
    text: str,
    labels: tuple[str, ...],
    external_id: str | None,
    options: ReadOptions,
    values: Mapping[str, Any] | None = None,
    *,
    line: int | None = None,
) -> Record:
    """Check the text and build the record (read from ``line``, where the format has lines);
    ``values`` (column -> value) gives the named fields and the correction of a project that
    has them."""
    if values is not None and (options.fields or options.correction_field):
        fields = {n: _field_text(values, n, column, options) for n, column in options.fields}
        correction = _correction(values, options)
        if correction is not None and not labels:
            raise Problem("a correction needs a label in the same row")
    if len(text) > options.max_text_chars:
        raise Problem(f"text is {len(text)} characters, over the limit of {options.max_text_chars}")
    if not text or text.isspace():
        raise Problem("empty text")
    if values is None or not (options.fields or options.correction_field):
        return Record(row=row, text=text, labels=labels, external_id=external_id, line=line)
    return Record(row, text, labels, external_id, fields or None, correction, line)


def _field_text(values: Mapping[str, Any], name: str, column: str, options: ReadOptions) -> str:
    """The text of the field ``name`` (read from ``column``): present, a string, not blank."""
    what = f'field "{column}"' + (f" (the project's field {name})" if column != name else "")
    value = _string(values, column, what)
    if not value or value.isspace():
        raise Problem(f"{what} is empty")
    if len(value) > options.max_text_chars:
        limit = options.max_text_chars
        raise Problem(f"{what} is {len(value)} characters, over the limit of {limit}")
    return value


def _string(values: Mapping[str, Any], column: str, what: str) -> str:
    """The string in ``column``: present, a string, no NUL (``what`` names it in errors)."""
    if column not in values:
        raise Problem(f"missing {what}")
    value = values[column]
    if not isinstance(value, str):
        raise Problem(f"{what} must be a string, not {json_type(value)}")
    _check_no_nul(value, column)
    return value


def _correction(values: Mapping[str, Any], options: ReadOptions) -> str | None:
    column = options.correction_field
    value = values.get(column) if column is not None else None
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _field_text(values, "correction", str(column), options)


def key_of(item: Container[str], field: str | None, fallback: str | None) -> str | None:
    """The key (column) to read ``field`` from: ``fallback`` when ``item`` (a JSON object, a
    CSV header) has it and not ``field``."""
    if fallback is not None and fallback in item and field not in item:
        return fallback
    return field


def optional_field(item: Mapping[str, Any], field: str | None, required: bool) -> Any:
    """The value of an optional field; None when absent (an error when it is required)."""
    if field is None or field in item:
        return None if field is None else item[field]
    if required:
        raise Problem(f'missing field "{field}"')
    return None


def clean_labels(values: list[str]) -> tuple[str, ...]:
    """Strip labels and drop empty ones, in order; a label given twice is refused, as the
    annotation API refuses it (a repeat is a slip, not a second label)."""
    labels = tuple(label for label in map(str.strip, values) if label)
    if len(set(labels)) != len(labels):
        twice = next(label for i, label in enumerate(labels) if label in labels[:i])
        raise Problem(f"labels must not repeat: {twice!r} is there twice")
    return labels


def strip_or_none(value: str | None) -> str | None:
    return (value.strip() or None) if value else None


# --- JSON objects (JSON Lines and JSON arrays) -------------------------------------------------


def json_record(
    item: Mapping[str, Any], options: ReadOptions, row: int, line: int | None = None
) -> Record:
    """Build the record of one JSON object (on ``line`` of a JSON Lines file)."""
    field = options.text_field
    text = _string(item, field, f'field "{field}"')
    labels = _json_labels(item, options)
    external_id = _json_id(item, options)
    return build_record(row, text, labels, external_id, options, item, line=line)


def json_type(value: object) -> str:
    """How an error names the JSON type of ``value``: "an object", "a string", "null"..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict | list):
        return "an object" if isinstance(value, dict) else "an array"
    return "a string" if isinstance(value, str) else "a number"


def _check_no_nul(value: str, field: str | None) -> None:
    """Refuse a NUL character, which JSON can escape as \\u0000 (databases refuse it)."""
    if "\x00" in value:
        raise Problem(f'field "{field}" contains a NUL character (\\u0000)')


def _json_labels(item: Mapping[str, Any], options: ReadOptions) -> tuple[str, ...]:
    field = key_of(item, options.label_field, options.label_fallback)
    value = optional_field(item, field, options.label_required)
    if value is None:
        return ()
    if isinstance(value, str):
        _check_no_nul(value, field)
        label = value.strip()
        return (label,) if label else ()
    if isinstance(value, list) and not options.multi_label:
        raise Problem(f'field "{field}" is a list, but the project takes one label per item')
    if isinstance(value, list) and all(isinstance(label, str) for label in value):
        _check_no_nul("".join(value), field)
        return clean_labels(value)
    expected = "a string or a list of strings" if options.multi_label else "a string"
    raise Problem(f'field "{field}" must be {expected}, not {json_type(value)}')


def _json_id(item: Mapping[str, Any], options: ReadOptions) -> str | None:
    field = key_of(item, options.id_field, options.id_fallback)
    value = optional_field(item, field, options.id_required)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        _check_no_nul(value, field)
        return strip_or_none(value)
    if value is None:
        return None
    raise Problem(f'field "{field}" must be a string or an integer, not {json_type(value)}')
