"""Upload and export formats: one module per format, one registry, one entry point per job.

To add a format, write a module that builds a :class:`~app.items.formats.base.FileFormat` and
add it to ``_REGISTERED`` below (see the module docstring of ``base`` for the contract).
"""

from __future__ import annotations

import codecs
import dataclasses
import io
from collections.abc import Iterator
from pathlib import PurePath
from typing import BinaryIO

from app.items.formats.base import (
    FileFormat,
    ImportFormatError,
    Preview,
    ReadOptions,
    Record,
    located,
    unsupported,
)
from app.items.formats.delimited import CSV, TSV
from app.items.formats.jsonarray import JSON_ARRAY
from app.items.formats.jsonl import JSONL
from app.items.formats.sniff import encoding_name
from app.items.formats.source import bad_byte_message, check_head, sniff_head

__all__ = [
    "EXPORT_FORMATS",
    "FORMATS",
    "FileFormat",
    "Format",
    "ImportFormatError",
    "Preview",
    "Record",
    "detect_format",
    "get",
    "iter_records",
    "preview",
]

_REGISTERED = (CSV, TSV, JSONL, JSON_ARRAY)  # in the order error messages list them

Format = str  # the name of a registered format: one of FORMATS
REGISTRY: dict[str, FileFormat] = {fmt.name: fmt for fmt in _REGISTERED}
FORMATS: tuple[str, ...] = tuple(REGISTRY)
EXPORT_FORMATS: tuple[str, ...] = tuple(f.name for f in _REGISTERED if f.write is not None)
PREVIEW_BYTES = 256 * 1024
_BY_EXTENSION = {ext: fmt.name for fmt in _REGISTERED for ext in fmt.extensions}
SPREADSHEETS = (".xlsx", ".xlsm", ".xls", ".ods", ".numbers")
SAVE_AS_CSV = 'save it as CSV (in Excel: File, Save As, "CSV UTF-8"), then upload the .csv file'


def get(name: str) -> FileFormat:
    """The registered format called ``name``; ImportFormatError (415) for any other."""
    if name not in REGISTRY:
        unsupported(f'unsupported format "{name}"; use one of: {", ".join(FORMATS)}')
    return REGISTRY[name]


def detect_format(filename: str | None, explicit: str | None = None) -> Format:
    """Return the upload's format: `explicit` if given, else the one its file extension names."""
    if explicit and explicit.strip():
        name = explicit.strip().lower()
        if name in REGISTRY:
            return name
        advice = f" ({SAVE_AS_CSV})" if f".{name}" in SPREADSHEETS else ""
        unsupported(
            f'unsupported format "{explicit.strip()}"; use one of: {", ".join(FORMATS)}{advice}'
        )
    extensions = ", ".join(_BY_EXTENSION)
    if not filename:
        unsupported(f"the upload has no file name; name it {extensions}")
    suffix = PurePath(filename).suffix.lower()
    if suffix in _BY_EXTENSION:
        return _BY_EXTENSION[suffix]
    if suffix in SPREADSHEETS:
        unsupported(f'"{filename}" is a spreadsheet, which is not imported as it is: {SAVE_AS_CSV}')
    unsupported(f'cannot tell the format of "{filename}" from its name; name it {extensions}')


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
    fields: tuple[tuple[str, str], ...] = (),
    correction_field: str | None = None,
    label_fallback: str | None = None,
    id_fallback: str | None = None,
) -> Iterator[Record]:
    """Stream validated records out of an uploaded file, in file order.

    A generator: nothing is read until iteration starts, and the caller owns (and closes)
    `stream`. A required field must be present (a CSV column, a key of each JSON object); its
    value may still be empty. ``fields`` are a project's named fields as (field, column)
    pairs: each must be present and non-blank in every record. A file without a
    ``label_field`` (``id_field``) column reads ``label_fallback`` (``id_fallback``) when it
    has that. Raises ImportFormatError, naming the row, at the first problem.
    """
    reader = get(fmt).read
    options = ReadOptions(
        text_field=text_field,
        label_field=label_field,
        id_field=id_field,
        label_required=label_field_required and label_field is not None,
        id_required=id_field_required and id_field is not None,
        multi_label=multi_label,
        max_text_chars=max_text_chars,
        fields=fields,
        correction_field=correction_field,
        label_fallback=label_fallback,
        id_fallback=id_fallback,
    )
    yield from reader(stream, options)


def preview(stream: BinaryIO, fmt: Format) -> Preview:
    """The layout, encoding, columns and first rows of an upload, read as the import will.

    Raises ImportFormatError for a file no mapping can import: binary, empty, undecodable
    within the first PREVIEW_BYTES, or (read to its end) without data rows.
    """
    head = stream.read(PREVIEW_BYTES)
    complete = not stream.read(1)
    check_head(head)
    codec = sniff_head(head) if get(fmt).legacy_encodings else "utf-8"
    found = get(fmt).preview(_decode(head, codec, complete), complete)
    if found.total == 0 and found.columns:  # a header row (JSON has no columns without rows)
        columns = ", ".join(found.columns[:20])
        raise ImportFormatError(f"the file has a header ({columns}) but no data rows")
    if found.total == 0:  # say what the import would: a value that is no object, or nothing
        next(iter_records(io.BytesIO(head), fmt), None)
        raise ImportFormatError("the file has no data rows")
    return dataclasses.replace(found, encoding=encoding_name(codec))


def _decode(head: bytes, codec: str, complete: bool) -> str:
    """The start of the file as text; the first bad byte (or NUL) raises, naming its line."""
    bom = len(codecs.BOM_UTF8) if head.startswith(codecs.BOM_UTF8) else 0
    body = head[bom:]
    nul = body.find(b"\x00")
    bad = nul  # offset in ``body`` of the first byte that cannot be read; -1 for none
    try:
        good = body if nul < 0 else body[:nul]
        text = codecs.getincrementaldecoder(codec)("strict").decode(good, complete or nul >= 0)
    except UnicodeDecodeError as exc:
        bad = exc.start
    if bad >= 0:
        line = body[:bad].count(b"\n") + 1
        message = bad_byte_message(body[bad], bom + bad, encoding_name(codec))
        raise ImportFormatError(located(message, None, line))
    if not text.strip():
        raise ImportFormatError("the file is empty")
    return text
