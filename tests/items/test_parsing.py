"""The streaming upload parser: happy paths per format, every error naming its row, flat memory."""

import io
import json
import tracemalloc
from collections.abc import Iterable, Iterator
from typing import Any, cast

import ijson
import pytest

from app.items.formats import (
    FORMATS,
    Format,
    ImportFormatError,
    Record,
    detect_format,
    iter_records,
    jsonarray,
)


class GeneratedFile(io.RawIOBase):
    """A read-only binary file fed by an iterator of chunks, so it is never all in memory."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        super().__init__()
        self._chunks = iter(chunks)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            self._pending = next(self._chunks, b"")
            if not self._pending:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def parse(data: bytes | str, fmt: Format = "csv", **options: Any) -> list[Record]:
    raw = data.encode() if isinstance(data, str) else data
    return list(iter_records(io.BytesIO(raw), fmt, **options))


def parse_error(data: bytes | str, fmt: Format = "csv", **options: Any) -> ImportFormatError:
    with pytest.raises(ImportFormatError) as info:
        parse(data, fmt, **options)
    return info.value


def byte_by_byte(data: bytes) -> GeneratedFile:
    return GeneratedFile(data[i : i + 1] for i in range(len(data)))


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


# --- CSV and TSV: happy paths ----------------------------------------------------------------


def test_csv_reads_text_label_and_id() -> None:
    records = parse("id,text,label\n7,the pasta was great,food\n8,rain all day,weather\n")
    assert records == [
        Record(row=1, text="the pasta was great", labels=("food",), external_id="7"),
        Record(row=2, text="rain all day", labels=("weather",), external_id="8"),
    ]


def test_csv_strips_a_utf8_bom_before_the_header() -> None:
    records = parse("\ufefftext,label\ncafé ☕,food\n".encode())
    assert records == [Record(row=1, text="café ☕", labels=("food",), external_id=None)]


def test_csv_keeps_a_quoted_multiline_field_and_counts_it_as_one_row() -> None:
    records = parse('text,label\n"first line\nsecond, with comma ""quoted""",a\nnext,b\n')
    assert [r.text for r in records] == ['first line\nsecond, with comma "quoted"', "next"]
    assert [r.row for r in records] == [1, 2]


@pytest.mark.parametrize("newline", ["\r\n", "\r", "\n"])
def test_csv_accepts_any_line_ending(newline: str) -> None:
    records = parse(newline.join(["text,label", "a,x", '"b\r\nc",y', ""]))
    assert [(r.text, r.labels) for r in records] == [("a", ("x",)), ("b\r\nc", ("y",))]


def test_tsv_reads_tab_separated_fields() -> None:
    records = parse("text\tlabel\tid\nhello, world\tpos\t 42 \n", "tsv")
    assert records == [Record(row=1, text="hello, world", labels=("pos",), external_id="42")]


def test_csv_multi_label_cell_is_split_on_pipes_stripped_and_deduplicated() -> None:
    records = parse("text,label\nhi, a | b||a \nho,\n", multi_label=True)
    assert [r.labels for r in records] == [("a", "b"), ()]


def test_csv_single_label_cell_is_one_stripped_label_even_with_a_pipe() -> None:
    assert parse("text,label\nhi, a|b \n")[0].labels == ("a|b",)


def test_csv_text_is_kept_as_is() -> None:
    assert parse('text\n"  padded text  "\n')[0].text == "  padded text  "


def test_csv_without_label_or_id_columns_gives_no_label_and_no_id() -> None:
    assert parse("text,notes\nhi,whatever\n") == [
        Record(row=1, text="hi", labels=(), external_id=None)
    ]


def test_csv_empty_label_and_id_cells_mean_none() -> None:
    assert parse("text,label,id\nhi, , \n", label_field_required=True, id_field_required=True) == [
        Record(row=1, text="hi", labels=(), external_id=None)
    ]


def test_csv_skips_blank_rows_without_counting_them() -> None:
    records = parse("\ntext,label\n\nfirst,a\n , \n,,\nsecond,b\n\n")
    assert [(r.row, r.text) for r in records] == [(1, "first"), (2, "second")]


def test_csv_short_row_leaves_optional_fields_empty() -> None:
    assert parse("text,label,id\nhi\n")[0] == Record(row=1, text="hi", labels=(), external_id=None)


def test_csv_uses_the_given_field_names_and_ignores_disabled_fields() -> None:
    data = "body,tag,label,id\nhi,t1,ignored,ignored\n"
    records = parse(data, text_field="body", label_field="tag", id_field=None)
    assert records == [Record(row=1, text="hi", labels=("t1",), external_id=None)]
    assert parse(data, text_field="body", label_field=None)[0].labels == ()


def test_csv_reads_multibyte_text_split_across_tiny_reads() -> None:
    data = "text,label\nhéllo wörld 日本語 🎉,ok\n".encode()
    records = list(iter_records(cast(Any, byte_by_byte(data)), "csv"))
    assert records == [
        Record(row=1, text="héllo wörld 日本語 🎉", labels=("ok",), external_id=None)
    ]


# --- CSV and TSV: errors ---------------------------------------------------------------------


def test_csv_without_the_text_column_lists_the_files_columns() -> None:
    error = parse_error("a,b,c\n1,2,3\n")
    assert str(error) == 'missing column "text"; the file\'s columns are: a, b, c'
    assert error.status_code == 422


@pytest.mark.parametrize(("field", "option"), [("label", "label_field"), ("id", "id_field")])
def test_csv_without_a_required_column_names_it(field: str, option: str) -> None:
    error = parse_error("text\nhi\n", **{f"{option}_required": True})
    assert str(error).startswith(f'missing column "{field}"; the file\'s columns are: text')


def test_tab_separated_file_named_csv_is_read_by_its_tabs() -> None:
    assert parse("text\tlabel\nhi, there\tx\n") == [Record(1, "hi, there", ("x",), None)]


def test_semicolon_separated_csv_is_read_by_its_semicolons() -> None:
    records = parse("msg_id;utterance;intent\nm1;hi, there;greet\n", text_field="utterance")
    assert records == [Record(1, "hi, there", (), None)]


def test_csv_with_a_duplicate_column_name_is_refused() -> None:
    assert '"label" twice' in str(parse_error("text,label,label\nhi,a,b\n"))


def test_csv_row_with_more_fields_than_the_header_names_row_and_line() -> None:
    error = parse_error("text,label\nok,a\n\nhi,a,extra\n")
    assert str(error) == "row 2 (line 4): 3 fields, but the header has 2 columns"
    assert error.row == 2


def test_csv_short_row_without_the_text_field_is_a_missing_field() -> None:
    assert str(parse_error("label,text\nok,fine\nx\n")) == 'row 2 (line 3): missing field "text"'


def test_csv_short_row_without_a_required_label_is_a_missing_field() -> None:
    error = parse_error("text,id,label\nhi,1\n", label_field_required=True)
    assert str(error) == 'row 1 (line 2): missing field "label"'


def test_csv_unterminated_quote_names_the_row_and_the_line_it_starts_on() -> None:
    error = parse_error('text,label\nok,a\n"never closed,b\nmore,c\nand more,d\n')
    assert str(error).startswith("row 2 (line 3): unterminated quoted field")


def test_csv_text_after_a_closing_quote_names_the_row() -> None:
    error = parse_error('text,label\n"quoted"trailing,a\n')
    assert str(error).startswith("row 1 (line 2): a quoted field must end with a quote")


def test_csv_text_over_the_limit_gets_our_message_not_a_csv_error() -> None:
    error = parse_error(b"text,label\nok,a\n" + b"x" * 1_048_576 + b",b\n")
    assert str(error) == "row 2 (line 3): text is 1048576 characters, over the limit of 100000"


def test_csv_text_limit_is_configurable() -> None:
    assert parse("text\nabcde\n", max_text_chars=5)[0].text == "abcde"
    assert "over the limit of 4" in str(parse_error("text\nabcde\n", max_text_chars=4))


def test_csv_line_too_long_to_buffer_is_refused() -> None:
    error = parse_error(b"text\n" + b"x" * (9 * 1024 * 1024))
    assert str(error) == "row 1 (line 2): the line is longer than 8388608 characters"


def test_csv_quote_left_open_over_many_lines_stops_at_the_field_limit() -> None:
    error = parse_error(b'text\nok\n"' + (b"y" * 999 + b"\n") * 9000)
    assert str(error).startswith("row 2 (line 3): a field is longer than 8388608 characters")


@pytest.mark.parametrize("text", ['""', '"   "', "\t"])
def test_csv_empty_text_names_the_row(text: str) -> None:
    assert str(parse_error(f"text,label\nok,a\n{text},b\n")) == "row 2 (line 3): empty text"


@pytest.mark.parametrize("data", [b"", b"   \n\r\n\n"])
def test_empty_csv_file_is_refused(data: bytes) -> None:
    assert str(parse_error(data)) == "the file is empty"


def test_csv_with_only_a_header_has_no_data_rows() -> None:
    assert str(parse_error("text,label\n\n")) == "the file has no data rows"


# A UTF-8 BOM (or UTF-8 text before it) says the file is UTF-8: a stray byte is an error then,
# not a sign of a legacy encoding (see test_sniff.py).
BOM = b"\xef\xbb\xbf"


def test_csv_invalid_utf8_names_the_row_and_line() -> None:
    error = parse_error(BOM + "text,label\nok,a\ncaf\xe9,b\n".encode("latin-1"))
    assert str(error) == (
        "row 2 (line 3): the file is not valid UTF-8 (byte 0xE9 at byte 22); save it as UTF-8"
    )
    assert error.row == 2


def test_csv_invalid_utf8_inside_a_multiline_field_names_its_physical_line() -> None:
    data = BOM + 'text,label\n"first\nsecond\ncaf\xe9",a\n'.encode("latin-1")
    assert str(parse_error(data)).startswith("row 1 (line 4): the file is not valid UTF-8")


def test_csv_invalid_utf8_in_the_header_names_line_1() -> None:
    error = parse_error(BOM + b"t\xffext\nhi\n")
    assert str(error).startswith("line 1: the file is not valid UTF-8")


def test_csv_truncated_utf8_at_the_end_is_invalid() -> None:
    assert "not valid UTF-8" in str(parse_error(b"text\nok\ncaf" + "é".encode()[:1]))


def test_csv_invalid_utf8_is_found_with_tiny_reads_too() -> None:
    stream = byte_by_byte("text\nnaïve\n".encode() + "bad \xe9 here\n".encode("latin-1"))
    with pytest.raises(ImportFormatError, match=r"^row 2 \(line 3\): the file is not valid UTF-8"):
        list(iter_records(cast(Any, stream), "csv"))


def test_csv_nul_byte_names_the_row() -> None:
    error = parse_error(b"text,label\nok,a\nnul\x00here,b\n")
    assert str(error).startswith("row 2 (line 3): the file contains a NUL byte")


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_file_is_refused_with_a_specific_message(encoding: str) -> None:
    data = "\ufefftext\nhello\n".encode(encoding)
    assert str(parse_error(data)) == "the file is UTF-16; save it as UTF-8"


@pytest.mark.parametrize(
    ("magic", "kind"),
    [(b"\x89PNG\r\n\x1a\n\x00\x00", "PNG image"), (b"PK\x03\x04\x14\x00", "ZIP archive")],
)
@pytest.mark.parametrize("fmt", FORMATS)
def test_binary_file_is_refused_as_binary(magic: bytes, kind: str, fmt: Format) -> None:
    assert kind in str(parse_error(magic + b"\x00" * 100, fmt))


# --- JSON Lines ------------------------------------------------------------------------------


def test_jsonl_reads_one_object_per_line_skipping_blank_lines() -> None:
    data = '\ufeff{"text": "a", "label": " pos ", "id": 12}\n\n  \r\n{"text": "b", "id": " x "}\r\n'
    assert parse(data, "jsonl") == [
        Record(row=1, text="a", labels=("pos",), external_id="12"),
        Record(row=2, text="b", labels=(), external_id="x"),
    ]


def test_jsonl_multi_label_takes_a_list_or_a_string() -> None:
    data = '{"text": "a", "label": ["x", " y ", "", "x"]}\n{"text": "b", "label": "z"}\n'
    assert [r.labels for r in parse(data, "jsonl", multi_label=True)] == [("x", "y"), ("z",)]


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
