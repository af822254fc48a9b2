"""Strict JSON bodies: NaN, Infinity, overflowing numbers and lone surrogates refused with the
path of the field, and a clean body parsed without walking it."""

from __future__ import annotations

import json

import pytest

from app import jsonbody
from app.jsonbody import BadJSONValue, loads


def _bad(text: str | bytes) -> BadJSONValue:
    with pytest.raises(BadJSONValue) as info:
        loads(text)
    return info.value


@pytest.mark.parametrize(
    ("text", "path", "kind"),
    [
        ('{"a": [1, NaN]}', ("a", 1), "finite_number"),
        ('{"a": {"b": Infinity}}', ("a", "b"), "finite_number"),
        ("[-Infinity]", (0,), "finite_number"),
        ('{"x": 1e400}', ("x",), "finite_number"),
        ('{"x": -1e400}', ("x",), "finite_number"),
        (
            '{"annotations": [{}, {}, {}, {"label": "\\ud800"}]}',
            ("annotations", 3, "label"),
            "string_unicode",
        ),
        ('["\\uDC00"]', (0,), "string_unicode"),
        ('{"ok": 1, "b\\ud800": 1}', ("b\\ud800",), "string_unicode"),
        ('"\\ud800\\u0041"', (), "string_unicode"),
        ('["é\ud800"]', (0,), "string_unicode"),  # a surrogate in a str given directly
    ],
)
def test_bad_values_name_their_path(text: str, path: tuple, kind: str) -> None:
    error = _bad(text)
    assert (error.path, error.kind) == (path, kind)


def test_the_first_bad_value_in_document_order_is_named() -> None:
    assert _bad('{"a": "fine", "b": [1, "\\ud800"], "c": NaN}').path == ("b", 1)
    assert _bad('{"a": NaN, "b\\ud800": 1}').path == ("a",)


def test_a_non_finite_value_dropped_by_a_repeated_key_is_still_refused() -> None:
    assert _bad('{"a": NaN, "a": 1}').path == ()


def test_messages_say_what_is_wrong() -> None:
    assert _bad("[NaN]").message == "Input should be a finite number: NaN is not a JSON number"
    assert _bad("[1e400]").problem == "1e400 is too large for a float"
    assert _bad('["\\ud800"]').message == (
        "Input should be valid Unicode: lone surrogate U+D800 (\\ud800) is half of a UTF-16 "
        "pair, not a character"
    )


@pytest.mark.parametrize(
    "text",
    ['"\\ud83d\\ude00"', '"\\uD83D\\uDE00"', '"\\\\ud800"', "[1e308, -1e308, 1e-400, 0.5]", "{}"],
)
def test_valid_json_is_parsed_as_json_loads_does(text: str) -> None:
    assert loads(text) == json.loads(text)
    assert loads(text.encode()) == json.loads(text.encode())


def test_bytes_that_are_not_utf8_raise_unicode_errors() -> None:
    with pytest.raises(UnicodeDecodeError):
        loads(b'["\xed\xa0\x80"]')  # U+D800 written as UTF-8 would


def test_a_clean_body_is_not_walked(monkeypatch: pytest.MonkeyPatch) -> None:
    def walk(value: object) -> None:
        raise AssertionError("walked a body that holds no bad value")

    monkeypatch.setattr(jsonbody, "_check", walk)
    body = {"annotations": [{"item_id": i, "label": "café \U0001f600"} for i in range(1000)]}
    assert loads(json.dumps(body, ensure_ascii=False).encode()) == body
