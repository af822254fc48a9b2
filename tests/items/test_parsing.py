"""The streaming upload parser: format detection, the stream it reads, flat memory.

The formats' happy paths and errors, every error naming its row, are in test_parsing_csv.py,
test_parsing_jsonl.py and test_parsing_json.py.
"""

import io
import json
import tracemalloc
from collections.abc import Iterator
from typing import Any, cast

import pytest

from app.items.formats import FORMATS, Format, ImportFormatError, detect_format, iter_records
from tests.items.parsing import GeneratedFile

# --- detect_format ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("data.csv", "csv"),
        ("DATA.CSV", "csv"),
        ("reviews.tsv", "tsv"),
        ("reviews.tab", "tsv"),
        ("dump.jsonl", "jsonl"),
        ("dump.NDJSON", "jsonl"),
        ("export.json", "json"),
        ("C:\\Users\\ana\\my.data.csv", "csv"),
    ],
)
def test_detects_format_from_extension(filename: str, expected: str) -> None:
    assert detect_format(filename) == expected


def test_explicit_format_wins_over_extension_case_insensitively() -> None:
    assert detect_format("data.csv", " JSONL ") == "jsonl"
    assert detect_format(None, "Tsv") == "tsv"


def test_unknown_explicit_format_is_415_listing_the_formats() -> None:
    with pytest.raises(ImportFormatError) as info:
        detect_format("data.csv", "xlsx")
    assert info.value.status_code == 415
    assert '"xlsx"' in str(info.value)
    assert all(name in str(info.value) for name in FORMATS)


@pytest.mark.parametrize("filename", ["data.xlsx", "data", "data.csv.gz", "", None])
def test_unknown_or_missing_extension_is_415(filename: str | None) -> None:
    with pytest.raises(ImportFormatError) as info:
        detect_format(filename)
    assert info.value.status_code == 415
    assert "csv" in str(info.value)


# --- the stream ------------------------------------------------------------------------------


def test_nothing_is_read_before_iteration_and_the_callers_stream_stays_open() -> None:
    stream = io.BytesIO(b"text\nhi\n")
    records = iter_records(stream, "csv")
    assert stream.tell() == 0
    assert [r.text for r in records] == ["hi"]
    assert not stream.closed


def test_unknown_format_passed_to_iter_records_is_415() -> None:
    with pytest.raises(ImportFormatError) as info:
        list(iter_records(io.BytesIO(b"text\nhi\n"), cast(Format, "xml")))
    assert info.value.status_code == 415


def generated_file(fmt: Format, total_bytes: int, written: dict[str, int]) -> Iterator[bytes]:
    """Chunks of a file of about `total_bytes` bytes with ~200-character texts; counts its rows."""
    filler = "lorem ipsum dolor sit amet, " * 7
    yield b"id,text,label\n" if fmt == "csv" else b"[" if fmt == "json" else b""
    while written["bytes"] < total_bytes:
        lines = []
        for row in range(written["rows"] + 1, written["rows"] + 501):
            if fmt == "csv":
                lines.append(f'{row},"row {row}: {filler}",pos\n')
            else:
                obj = json.dumps({"id": row, "text": f"row {row}: {filler}", "label": "pos"})
                lines.append(obj + ("\n" if fmt == "jsonl" else ",\n"))
        chunk = "".join(lines).encode()
        written["bytes"] += len(chunk)
        written["rows"] += len(lines)
        yield chunk
    if fmt == "json":
        written["rows"] += 1
        yield b'{"text": "last"}]'


@pytest.mark.slow  # streams 90 MB through the parsers
@pytest.mark.parametrize(("fmt", "megabytes"), [("csv", 50), ("jsonl", 20), ("json", 20)])
def test_memory_stays_flat_while_streaming_a_large_file(fmt: Format, megabytes: int) -> None:
    written = {"bytes": 0, "rows": 0}
    stream = GeneratedFile(generated_file(fmt, megabytes * 1024 * 1024, written))
    tracemalloc.start()
    try:
        count = sum(1 for _ in iter_records(cast(Any, stream), fmt))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert written["bytes"] >= megabytes * 1024 * 1024
    assert count == written["rows"]
    assert peak < 10 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB while parsing {megabytes} MB"
