"""The preview reads an upload as the import will: every row of a small file, the sniffed
layout and encoding, and a file no mapping can import refused with what is wrong and where."""

from __future__ import annotations

import io

import pytest

from app.items.formats import ImportFormatError, detect_format, iter_records, preview
from app.items.formats.base import Preview


def _preview(data: bytes, fmt: str = "csv") -> Preview:
    return preview(io.BytesIO(data), fmt)


def _problem(data: bytes, fmt: str = "csv") -> ImportFormatError:
    with pytest.raises(ImportFormatError) as info:
        _preview(data, fmt)
    return info.value


@pytest.mark.parametrize("ending", ["\n", ""])
def test_a_small_file_shows_every_row_with_or_without_a_final_newline(ending: str) -> None:
    found = _preview(f"text,label\na,x\nb,y\nc,z{ending}".encode())
    assert found.rows == [["a", "x"], ["b", "y"], ["c", "z"]]
    assert found.total == 3


@pytest.mark.parametrize(
    ("data", "fmt"),
    [(b'{"text": "a"}\n{"text": "b"}', "jsonl"), (b'[{"text": "a"}, {"text": "b"}]', "json")],
)
def test_a_small_json_file_shows_every_object(data: bytes, fmt: str) -> None:
    found = _preview(data, fmt)
    assert found.rows == [["a"], ["b"]] and found.total == 2


def test_a_large_file_shows_its_first_rows_and_leaves_out_the_cut_line() -> None:
    data = b"text\n" + b"".join(b"row number %d\n" % i for i in range(40_000))
    found = _preview(data)
    assert found.total is None and found.rows[0] == ["row number 0"]
    assert all(row[0].startswith("row number ") for row in found.rows)


def test_semicolons_are_sniffed_and_described() -> None:
    found = _preview(b"msg_id;utterance;intent\nm1;hello, there;greet\n")
    assert found.columns == ["msg_id", "utterance", "intent"]
    assert found.rows == [["m1", "hello, there", "greet"]]
    assert found.description == "semicolon-separated, UTF-8"


def test_a_latin1_file_previews_and_imports_the_same_texts() -> None:
    data = "id,text\n1,café au lait\n2,très bien\n".encode("latin-1")
    found = _preview(data)
    assert found.rows == [["1", "café au lait"], ["2", "très bien"]]
    assert found.description == "comma-separated, Windows-1252 (Western European)"
    texts = [r.text for r in iter_records(io.BytesIO(data), "csv")]
    assert texts == ["café au lait", "très bien"]


@pytest.mark.parametrize("data", [b"", b"  \n\r\n", b"\xef\xbb\xbf"])
def test_an_empty_file_is_refused(data: bytes) -> None:
    assert str(_problem(data)) == "the file is empty"


def test_a_header_without_rows_names_the_header() -> None:
    assert str(_problem(b"text,label\n")) == "the file has a header (text, label) but no data rows"
    assert str(_problem(b"[]", "json")) == "the file has no data rows"


def test_an_undecodable_byte_is_found_at_preview_naming_line_and_byte() -> None:
    data = "text\nnaïve\nok\n".encode() + b"bad \xe9 here\n"
    assert str(_problem(data)) == (
        "line 4: the file is not valid UTF-8 (byte 0xE9 at byte 19); save it as UTF-8"
    )


def test_a_nul_byte_is_found_at_preview() -> None:
    assert str(_problem(b"text\nok\nnul\x00here\n")).startswith("line 3: the file contains a NUL")


def test_a_spreadsheet_renamed_csv_is_refused_by_its_bytes() -> None:
    assert "ZIP archive (an Excel .xlsx file?)" in str(_problem(b"PK\x03\x04rest"))


@pytest.mark.parametrize("name", ["data.xlsx", "Data.XLS", "sheet.ods"])
def test_a_spreadsheet_is_told_to_be_saved_as_csv(name: str) -> None:
    with pytest.raises(ImportFormatError) as info:
        detect_format(name)
    assert info.value.status_code == 415
    assert "save it as CSV" in str(info.value) and "choose a format" not in str(info.value)


@pytest.mark.parametrize(
    ("data", "fmt", "message"),
    [
        (b"1\n2\n", "jsonl", "row 1 (line 1): expected a JSON object, got a number"),
        (b'["a", "b"]', "json", "row 1: expected a JSON object, got a string"),
    ],
)
def test_json_without_objects_says_what_the_import_would(
    data: bytes, fmt: str, message: str
) -> None:
    assert str(_problem(data, fmt)) == message


def test_a_spreadsheet_format_named_in_the_api_is_told_to_be_saved_as_csv() -> None:
    with pytest.raises(ImportFormatError) as info:
        detect_format("data.csv", "XLSX")
    assert info.value.status_code == 415 and "save it as CSV" in str(info.value)
