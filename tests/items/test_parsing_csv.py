"""The CSV and TSV upload parser: happy paths, and every error naming its row and line."""

import csv
import io
from typing import Any, cast

import pytest

from app.items.formats import FORMATS, Format, ImportFormatError, Record, iter_records
from app.items.formats.delimited import escape_formula
from tests.items.parsing import byte_by_byte, parse, parse_error

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


def test_csv_multi_label_cell_is_split_on_pipes_and_stripped() -> None:
    records = parse("text,label\nhi, a | b|| \nho,\n", multi_label=True)
    assert [r.labels for r in records] == [("a", "b"), ()]


def test_csv_multi_label_cell_with_a_label_twice_is_refused_naming_row_and_line() -> None:
    error = parse_error("text,label\nhi,a\nho,a | b|a\n", multi_label=True)
    assert str(error) == "row 2 (line 3): labels must not repeat: 'a' is there twice"


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


# --- the export's formula guard --------------------------------------------------------------

GUARDED = [  # (a value, its exported cell)
    ("=SUM(1+1)", "'=SUM(1+1)"),
    ("+1", "'+1"),
    ("-1", "'-1"),
    ("@home", "'@home"),
    ("\tindented", "'\tindented"),
    ("'=quoted", "''=quoted"),
    ("''-twice", "'''-twice"),
    ("'", "'"),
    ("'plain", "'plain"),
    ("it's", "it's"),
]


@pytest.mark.parametrize(("value", "exported"), GUARDED)
def test_csv_import_takes_off_exactly_the_quote_the_export_put_on(
    value: str, exported: str
) -> None:
    assert escape_formula(value) == exported
    buffer = io.StringIO()
    csv.writer(buffer).writerows([["id", "text", "label"], [exported] * 3])
    record = parse(buffer.getvalue())[0]
    expected = (value.strip(), value, (value.strip(),))
    assert (record.external_id, record.text, record.labels) == expected


def test_tsv_import_keeps_the_quotes_only_a_csv_export_puts_on() -> None:
    assert parse("text\tlabel\n'=formula\t'-1\n", "tsv")[0] == Record(
        row=1, text="'=formula", labels=("'-1",), external_id=None
    )
