"""Encoding and delimiter sniffing: what the preview shows and the import then reads."""

from __future__ import annotations

import pytest

from app.items.formats.sniff import delimiter_of, encoding_name, encoding_of


@pytest.mark.parametrize(
    ("text", "codec", "expected"),
    [
        ("id,text\n1,plain ascii\n", "utf-8", "utf-8"),
        ("id,text\n1,café ☕ 日本語\n", "utf-8", "utf-8"),
        ("id,text,label\n1,café au lait,food\n2,Très bien,weather\n", "latin-1", "cp1252"),
        ("text\nnaïve résumé in Zürich\n", "cp1252", "cp1252"),
        ("text\nПривет мир, как дела\n", "cp1251", "cp1251"),
    ],
)
def test_encoding_is_sniffed_from_the_first_bytes(text: str, codec: str, expected: str) -> None:
    assert encoding_of(text.encode(codec), complete=True) == expected


def test_a_stray_byte_after_utf8_text_is_utf8_with_an_error() -> None:
    sample = "text\nnaïve\n".encode() + b"bad \xe9 here\n"
    assert encoding_of(sample, complete=True) == "utf-8"


def test_a_character_cut_off_at_the_end_is_utf8() -> None:
    assert encoding_of(b"text\ncaf" + "é".encode()[:1], complete=True) == "utf-8"
    assert encoding_of(b"text\ncaf" + "é".encode()[:1], complete=False) == "utf-8"


def test_encodings_have_names_people_know() -> None:
    assert encoding_name("utf-8") == "UTF-8"
    assert encoding_name("cp1252") == "Windows-1252 (Western European)"


@pytest.mark.parametrize(
    ("text", "default", "expected"),
    [
        ("msg_id;utterance;intent\n1;hello, there;greet\n2;bye;bye\n", ",", ";"),
        ("text\tlabel\nhi, there\tx\n", ",", "\t"),
        ("text,label\nhi; there,x\nyes; no,y\n", "\t", ","),
        ("text|label\nhi there|x\n", ",", "|"),
        ('text,label\n"a; b; c",x\n"d; e",y\n', ",", ","),
        ("text\nhello; world\nbye; now\n", ",", ","),  # one column: stays as named
        ("", ",", ","),
    ],
)
def test_delimiter_is_sniffed_and_the_named_one_wins_when_it_fits(
    text: str, default: str, expected: str
) -> None:
    assert delimiter_of(text, default) == expected


def test_a_code_page_that_reads_the_same_as_windows_1252_is_called_that() -> None:
    rows = "".join(f"{i};which rate for euros – café, message {i};rates\n" for i in range(40))
    sample = ("msg_id;utterance;intent\n" + rows).encode("cp1252")
    assert encoding_of(sample, complete=True) == "cp1252"
