"""JSON Lines: one JSON object per line, read strictly (no NaN, Infinity or lone surrogates)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

from app import jsonbody
from app.items.formats.base import (
    EXPORT_LABELS,
    SAMPLE_ROWS,
    ExportRow,
    FileFormat,
    ImportFormatError,
    Preview,
    Problem,
    ReadOptions,
    Record,
    fail,
    objects_preview,
    shaped_row,
)
from app.items.formats.fields import json_record, json_type
from app.items.formats.source import CHUNK_BYTES, Source


def read(stream: BinaryIO, options: ReadOptions) -> Iterator[Record]:
    """Stream the records of a JSON Lines file; blank lines are skipped."""
    lines = io.BufferedReader(Source(stream), CHUNK_BYTES)
    limit = options.record_limit
    row = line = 0
    while True:
        line += 1
        try:
            raw = lines.readline(limit)
            if not raw:
                break
            if len(raw) >= limit and not raw.endswith(b"\n"):
                raise Problem(f"the line is longer than {limit} bytes")
            if raw.isspace():
                continue
            record = json_record(_load_line(raw), options, row + 1, line)
        except Problem as exc:
            fail(exc, row + 1, line)
        row += 1
        yield record
    if row == 0:
        raise ImportFormatError("the file is empty")


def _load_line(raw: bytes) -> Any:
    try:
        value = jsonbody.loads(raw.decode())
    except jsonbody.BadJSONValue as exc:
        field = f'field "{exc.path[0]}": ' if exc.path and isinstance(exc.path[0], str) else ""
        raise Problem(f"{field}{exc.problem}") from None
    except json.JSONDecodeError as exc:
        raise Problem(f"invalid JSON ({exc.msg} at character {exc.pos + 1})") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise Problem(f"invalid JSON ({exc})") from None
    except RecursionError:
        raise Problem("the JSON is nested too deeply") from None
    if not isinstance(value, dict):
        raise Problem(f"expected a JSON object, got {json_type(value)}")
    return value


def preview(text: str, complete: bool) -> Preview:
    """The objects among the first lines (lines that are not objects are passed over)."""
    lines = text.splitlines()
    if not complete and len(lines) > 1:
        lines = lines[:-1]  # may be cut off
    found = []
    for line in lines:
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            found.append(value)
    total = len(found) if complete else None
    return objects_preview(found[:SAMPLE_ROWS], "JSON Lines", total)


def write(rows: Iterable[ExportRow], multi_label: bool) -> Iterator[str]:
    """One object per row: "labels" (a list) for multi-label projects, else "label" (or null);
    the item's final label likewise as "final_labels" or "final_label"."""
    skip = ("labels", "final_labels", "fields", "correction", "document")
    for row in rows:
        out: dict[str, Any] = {k: v for k, v in row.items() if k not in skip}
        if (shaped := shaped_row(row)) is not None:
            out = {k: v for k, v in out.items() if k not in ("text", "source")} | shaped
        final = row["final_labels"]
        if multi_label:
            out[EXPORT_LABELS] = row["labels"]
            out["final_labels"] = final
        else:
            out["label"] = row["labels"][0] if row["labels"] else None
            out["final_label"] = final[0] if final else None
        yield json.dumps(out, ensure_ascii=False) + "\n"


JSONL = FileFormat(
    name="jsonl", extensions=(".jsonl", ".ndjson"), read=read, preview=preview, write=write
)
