"""A peek at an uploaded file: its columns and first rows, for the field-mapping form."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import BinaryIO

from app.items.parsing import Format

HEAD_BYTES = 256 * 1024
MAX_ROWS = 5


@dataclass(frozen=True)
class Preview:
    columns: list[str]
    rows: list[list[str]]


def preview(stream: BinaryIO, fmt: Format) -> Preview:
    """Columns and up to five rows from the start of the file (problems show up at import)."""
    head = stream.read(HEAD_BYTES)
    text = head.decode("utf-8-sig", errors="replace")
    if fmt in ("csv", "tsv"):
        return _delimited(text, "," if fmt == "csv" else "\t")
    return _objects(_json_objects(text, fmt))


def _delimited(text: str, delimiter: str) -> Preview:
    lines = text.splitlines(keepends=True)
    if len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut off mid-row
    reader = csv.reader(io.StringIO("".join(lines)), delimiter=delimiter)
    rows = []
    for row in reader:
        rows.append(row)
        if len(rows) > MAX_ROWS:
            break
    if not rows:
        return Preview([], [])
    return Preview(rows[0], rows[1:])


def _json_objects(text: str, fmt: Format) -> list[dict[str, object]]:
    if fmt == "jsonl":
        found = []
        for line in text.splitlines()[: MAX_ROWS * 2]:
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                found.append(value)
        return found[:MAX_ROWS]
    decoder = json.JSONDecoder()
    start = text.find("{")
    found = []
    while start != -1 and len(found) < MAX_ROWS:
        try:
            value, end = decoder.raw_decode(text, start)
        except ValueError:
            break
        if isinstance(value, dict):
            found.append(value)
        start = text.find("{", end)
    return found


def _objects(objects: list[dict[str, object]]) -> Preview:
    columns: list[str] = []
    for obj in objects:
        columns += [key for key in obj if key not in columns]
    rows = [[_cell(obj.get(c)) for c in columns] for obj in objects]
    return Preview(columns, rows)


def _cell(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)
