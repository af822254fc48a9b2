"""The JSON upload parser: the fields of JSON objects (JSON Lines too) and JSON arrays."""

import json
from typing import Any, cast

import ijson
import pytest

from app.items.formats import Format, Record, iter_records, jsonarray
from tests.items.parsing import byte_by_byte, parse, parse_error

# --- fields of JSON objects (JSON Lines and JSON arrays alike) -------------------------------


@pytest.fixture(params=["jsonl", "json"])
def json_format(request: pytest.FixtureRequest) -> Format:
    return cast(Format, request.param)


def parse_object_error(obj: str, fmt: Format, **options: Any) -> str:
    data = obj + "\n" if fmt == "jsonl" else f"[{obj}]"
    return str(parse_error(data, fmt, **options))


@pytest.mark.parametrize(
    ("text", "kind"), [("3", "a number"), ("null", "null"), ('{"a": 1}', "an object")]
)
def test_json_text_that_is_not_a_string_is_refused(
    text: str, kind: str, json_format: Format
) -> None:
    message = parse_object_error(f'{{"text": {text}}}', json_format)
    where = "row 1 (line 1)" if json_format == "jsonl" else "row 1"
    assert message == f'{where}: field "text" must be a string, not {kind}'


def test_json_missing_text_is_refused(json_format: Format) -> None:
    assert parse_object_error('{"body": "a"}', json_format).endswith('missing field "text"')


def test_json_whitespace_text_is_empty(json_format: Format) -> None:
    assert parse_object_error('{"text": " \\n "}', json_format).endswith(": empty text")


def test_json_text_over_the_limit_is_refused(json_format: Format) -> None:
    message = parse_object_error(json.dumps({"text": "x" * 11}), json_format, max_text_chars=10)
    assert message.endswith("text is 11 characters, over the limit of 10")


def test_json_list_label_in_a_single_label_project_is_refused(json_format: Format) -> None:
    message = parse_object_error('{"text": "a", "label": ["x"]}', json_format)
    assert message.endswith('field "label" is a list, but the project takes one label per item')


@pytest.mark.parametrize("label", ["1", "true", '{"x": 1}', '["x", 2]', '["x", null]'])
def test_json_label_that_is_not_a_string_is_refused(label: str, json_format: Format) -> None:
    message = parse_object_error(
        f'{{"text": "a", "label": {label}}}', json_format, multi_label=True
    )
    assert 'field "label" must be a string or a list of strings, not ' in message


def test_json_missing_required_label_is_refused(json_format: Format) -> None:
    message = parse_object_error('{"text": "a"}', json_format, label_field_required=True)
    assert message.endswith('missing field "label"')


@pytest.mark.parametrize("value", ["1.5", "true", "[1]", '{"a": 1}'])
def test_json_id_that_is_not_a_string_or_integer_is_refused(
    value: str, json_format: Format
) -> None:
    message = parse_object_error(f'{{"text": "a", "id": {value}}}', json_format)
    assert 'field "id" must be a string or an integer, not ' in message


def test_json_missing_required_id_is_refused(json_format: Format) -> None:
    message = parse_object_error('{"text": "a"}', json_format, id_field_required=True)
    assert message.endswith('missing field "id"')


@pytest.mark.parametrize("field", ["text", "label", "id"])
def test_json_escaped_nul_character_is_refused(field: str, json_format: Format) -> None:
    obj = {"text": "a", field: "b\u0000c"}
    message = parse_object_error(json.dumps(obj), json_format)
    assert message.endswith(f'field "{field}" contains a NUL character (\\u0000)')


# --- JSON arrays -----------------------------------------------------------------------------


@pytest.fixture(params=["yajl2_c", "python"])
def ijson_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with ijson's C backend and with its pure-Python fallback."""
    backend = ijson.get_backend(request.param)
    monkeypatch.setattr(jsonarray, "ijson_backend", lambda: backend)
    return cast(str, request.param)


def test_json_uses_the_c_backend_when_it_is_installed() -> None:
    assert jsonarray.ijson_backend().backend_name == "yajl2_c"


def test_json_reads_an_array_of_objects(ijson_backend: str) -> None:
    data = (
        '\ufeff [{"text": "a", "label": "x", "id": 7, "meta": {"deep": [1, {"b": [2]}]}},\n'
        ' {"id": "k-2", "text": "b", "label": null}, {"text": "c", "extra": [null, true, 1.5]}] \n'
    )
    assert parse(data, "json") == [
        Record(row=1, text="a", labels=("x",), external_id="7"),
        Record(row=2, text="b", labels=(), external_id="k-2"),
        Record(row=3, text="c", labels=(), external_id=None),
    ]


def test_json_multi_label_takes_a_list(ijson_backend: str) -> None:
    data = '[{"text": "a", "label": ["x", "y"]}, {"text": "b", "label": []}]'
    assert [r.labels for r in parse(data, "json", multi_label=True)] == [("x", "y"), ()]


def test_json_reads_multibyte_text_split_across_tiny_reads(ijson_backend: str) -> None:
    data = json.dumps([{"text": "héllo 日本語 🎉"}], ensure_ascii=False).encode()
    records = list(iter_records(cast(Any, byte_by_byte(data)), "json"))
    assert records == [Record(row=1, text="héllo 日本語 🎉", labels=(), external_id=None)]


@pytest.mark.parametrize(
    ("data", "kind"),
    [('{"text": "a"}', "an object"), ('"text"', "a string"), ("3", "a number")],
)
def test_json_that_is_not_an_array_is_refused(data: str, kind: str, ijson_backend: str) -> None:
    message = str(parse_error(data, "json"))
    assert message.startswith(f"expected a JSON array of objects, but the file holds {kind}")


def test_json_object_per_line_uploaded_as_json_gets_a_hint(ijson_backend: str) -> None:
    assert "JSON Lines" in str(parse_error('{"text": "a"}\n{"text": "b"}\n', "json"))


def test_json_array_item_that_is_not_an_object_names_the_row(ijson_backend: str) -> None:
    error = parse_error('[{"text": "a"}, ["b"]]', "json")
    assert str(error) == "row 2: expected a JSON object, got an array"
    assert error.row == 2


@pytest.mark.parametrize(
    "data",
    [
        '[{"text": "a"}, {"text": "b",}]',
        '[{"text": "a"}, {text: "b"}]',
        '[{"text": "a"} {"text": "b"}]',
    ],
)
def test_malformed_json_names_the_record(data: str, ijson_backend: str) -> None:
    assert str(parse_error(data, "json")).startswith("row 2: invalid JSON (")


def test_truncated_json_names_the_record(ijson_backend: str) -> None:
    message = str(parse_error('[{"text": "a"}, {"text": "b', "json"))
    assert message.startswith("row 2: invalid JSON")


def test_json_with_garbage_after_the_array_is_refused(ijson_backend: str) -> None:
    message = str(parse_error('[{"text": "a"}] {"text": "b"}', "json"))
    assert message.startswith("after the closing ]: invalid JSON")


def test_json_deeply_nested_arrays_give_a_clear_error(ijson_backend: str) -> None:
    error = parse_error("[" * 10_000 + "]" * 10_000, "json")
    assert str(error) == "row 1: expected a JSON object, got an array"


@pytest.mark.parametrize("field", ["label", "metadata"])
def test_json_deep_nesting_inside_a_record_is_refused(field: str, ijson_backend: str) -> None:
    nested = "[" * 100_000 + "]" * 100_000
    data = f'[{{"text": "a"}}, {{"text": "b", "{field}": {nested}}}]'
    assert str(parse_error(data, "json")) == "row 2: the JSON is nested more than 64 levels deep"


def test_json_invalid_utf8_names_the_record(ijson_backend: str) -> None:
    data = '[{"text": "ok"},\n {"text": "caf\xe9"}]'.encode("latin-1")
    assert str(parse_error(data, "json")).startswith("row 2: the file is not valid UTF-8")


def test_json_nul_byte_names_the_record(ijson_backend: str) -> None:
    data = b'[{"text": "ok"}, {"text": "a"}, {"text": "b\x00"}]'
    assert str(parse_error(data, "json")).startswith("row 3: the file contains a NUL byte")


@pytest.mark.parametrize("data", [b"\x00\xcd", b"\xcd[]"])
def test_json_bad_first_byte_is_refused(data: bytes, ijson_backend: str) -> None:
    assert "at byte 0)" in str(parse_error(data, "json"))


@pytest.mark.parametrize("data", [b"", b" \n\t ", b"\xef\xbb\xbf"])
def test_empty_json_file_is_refused(data: bytes, ijson_backend: str) -> None:
    assert str(parse_error(data, "json")) == "the file is empty"


def test_empty_json_array_has_no_data_rows(ijson_backend: str) -> None:
    assert str(parse_error(" [ ] ", "json")) == "the file has no data rows"
