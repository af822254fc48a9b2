"""The JSON Lines upload parser: one object per line, every error naming its row and line."""

import pytest

from app.items.formats import Record
from tests.items.parsing import parse, parse_error


def test_jsonl_reads_one_object_per_line_skipping_blank_lines() -> None:
    data = '\ufeff{"text": "a", "label": " pos ", "id": 12}\n\n  \r\n{"text": "b", "id": " x "}\r\n'
    assert parse(data, "jsonl") == [
        Record(row=1, text="a", labels=("pos",), external_id="12"),
        Record(row=2, text="b", labels=(), external_id="x"),
    ]


def test_jsonl_multi_label_takes_a_list_or_a_string() -> None:
    data = '{"text": "a", "label": ["x", " y ", ""]}\n{"text": "b", "label": "z"}\n'
    assert [r.labels for r in parse(data, "jsonl", multi_label=True)] == [("x", "y"), ("z",)]


def test_jsonl_list_with_a_label_twice_is_refused_as_the_annotation_api_refuses_it() -> None:
    error = parse_error('{"text": "a", "label": ["x", " y ", "x "]}\n', "jsonl", multi_label=True)
    assert str(error) == "row 1 (line 1): labels must not repeat: 'x' is there twice"


@pytest.mark.parametrize("label", ["null", '""', '"   "', "[]"])
def test_jsonl_null_or_empty_label_means_no_label(label: str) -> None:
    data = f'{{"text": "a", "label": {label}}}\n'
    assert parse(data, "jsonl", multi_label=True, label_field_required=True)[0].labels == ()


def test_jsonl_invalid_json_names_row_and_line() -> None:
    error = parse_error('{"text": "a"}\n\n{"text": \n', "jsonl")
    assert str(error).startswith("row 2 (line 3): invalid JSON (Expecting value")
    assert error.row == 2


@pytest.mark.parametrize(("line", "kind"), [("[1, 2]", "an array"), ('"text"', "a string")])
def test_jsonl_line_that_is_not_an_object_names_row_and_line(line: str, kind: str) -> None:
    error = parse_error(f'{{"text": "a"}}\n{line}\n', "jsonl")
    assert str(error) == f"row 2 (line 2): expected a JSON object, got {kind}"


def test_jsonl_deep_nesting_is_a_clear_error_not_a_recursion_error() -> None:
    error = parse_error('{"text": "a", "m": ' + "[" * 100_000 + "]" * 100_000 + "}\n", "jsonl")
    assert str(error) == "row 1 (line 1): the JSON is nested too deeply"


def test_jsonl_huge_integer_is_invalid_json_not_a_crash() -> None:
    error = parse_error('{"text": "a", "id": ' + "9" * 5000 + "}\n", "jsonl")
    assert str(error).startswith("row 1 (line 1): invalid JSON")


def test_jsonl_invalid_utf8_names_row_and_line() -> None:
    data = '{"text": "ok"}\n{"text": "caf\xe9"}\n'.encode("latin-1")
    assert str(parse_error(data, "jsonl")).startswith("row 2 (line 2): the file is not valid UTF-8")


def test_jsonl_nul_byte_names_row_and_line() -> None:
    error = parse_error(b'{"text": "ok"}\n\n{"text": "a\x00"}\n', "jsonl")
    assert str(error).startswith("row 2 (line 3): the file contains a NUL byte")


@pytest.mark.parametrize("data", [b"", b"\n  \n\r\n"])
def test_empty_jsonl_file_is_refused(data: bytes) -> None:
    assert str(parse_error(data, "jsonl")) == "the file is empty"
