"""Lone surrogate escapes in JSON-array uploads: found wherever the reads split the file,
never confused with an escaped backslash or a valid pair, on both ijson backends."""

from __future__ import annotations

import io
import json
import random
import re
from collections.abc import Iterator
from typing import Any, cast

import ijson
import pytest

from app.items import surrogates
from app.items.formats import ImportFormatError, iter_records, jsonarray

# ijson's pure-Python backend raises again when its generators, left mid-string by the error,
# are collected; harmless, and not the parser's doing.
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

# Characters the random texts are drawn from: escapes of every kind, raw multi-byte UTF-8.
ALPHABET = ["a", "\\", '"', "é", "日", "\U0001f600", "\ud800", "\udbff", "\udc00", "\udfff", "u"]


class Chunked(io.RawIOBase):
    """A file handing out ``data`` in the given read sizes, so escapes fall across reads."""

    def __init__(self, data: bytes, sizes: Iterator[int]) -> None:
        super().__init__()
        self._data = data
        self._sizes = sizes

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = min(len(buffer), next(self._sizes), len(self._data))
        buffer[:size] = self._data[:size]
        self._data = self._data[size:]
        return size


@pytest.fixture(params=["yajl2_c", "python"])
def ijson_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    backend = ijson.get_backend(request.param)
    monkeypatch.setattr(jsonarray, "ijson_backend", lambda: backend)
    return cast(str, request.param)


def _encode(texts: list[str]) -> bytes:
    """A JSON array of records, raw UTF-8 except that surrogates are written as escapes."""
    body = json.dumps([{"text": text} for text in texts], ensure_ascii=False)
    return body.encode("utf-8", "backslashreplace")


def _lone(text: str) -> bool:
    """Whether ``text`` has a surrogate that JSON escapes cannot pair (as UTF-16 decodes it)."""
    paired = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    return re.search("[\ud800-\udfff]", paired) is not None


def _read(data: bytes, sizes: Iterator[int]) -> list[str]:
    return [r.text for r in iter_records(cast(Any, Chunked(data, sizes)), "json")]


def test_random_texts_split_at_random_reads(ijson_backend: str) -> None:
    rng = random.Random(20261204)
    for _ in range(300):
        texts = ["".join(rng.choices(ALPHABET, k=rng.randint(1, 12))) for _ in range(3)]
        data = _encode(texts)
        sizes = iter(lambda: rng.choice([1, 2, 5, 13, 64 * 1024]), None)
        bad = next((row for row, text in enumerate(texts, 1) if _lone(text)), None)
        if bad is None:
            expected = [t.encode("utf-16-le", "surrogatepass").decode("utf-16-le") for t in texts]
            assert _read(data, sizes) == expected, data
            continue
        with pytest.raises(ImportFormatError) as info:
            _read(data, sizes)
        assert str(info.value).startswith(f'row {bad}: field "text": lone surrogate'), data


@pytest.mark.parametrize(
    "text",
    [
        "\\\\ud800",  # an escaped backslash, then the letters "ud800"
        "\\\\\\\\ud800",
        "\\ud83d\\ude00",  # a pair
        "\\uD83D\\uDE00",  # a pair in upper case
        "\\ud83d\\ude00\\ud83d\\ude00",
    ],
)
def test_escaped_backslashes_and_pairs_pass(text: str, ijson_backend: str) -> None:
    data = f'[{{"text": "{text}"}}]'.encode()
    expected = json.loads(f'"{text}"')
    assert _read(data, iter(lambda: 1, None)) == [expected]
    assert _read(data, iter(lambda: 1 << 16, None)) == [expected]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("\\\\\\ud800", "D800"),  # an escaped backslash, then a lone escape
        ("\\ud800", "D800"),  # at the end of the string
        ("\\ud800\\ud800\\udc00", "D800"),  # a high one, then a pair
        ("\\udc00\\ud800", "DC00"),  # the pair the wrong way round
        ("\\ud800\\u0041", "D800"),
        ("\\ud800\\\\udc00", "D800"),  # the low "escape" is an escaped backslash
    ],
)
def test_lone_surrogates_are_refused(text: str, code: str, ijson_backend: str) -> None:
    data = f'[{{"text": "ok"}}, {{"text": "{text}"}}]'.encode()
    for size in (1, 7, 1 << 16):
        with pytest.raises(ImportFormatError) as info:
            _read(data, iter(lambda size=size: size, None))
        assert str(info.value).startswith(f'row 2: field "text": lone surrogate U+{code}')


def test_a_lone_surrogate_in_a_nested_field_names_the_top_field(ijson_backend: str) -> None:
    data = b'[{"text": "a", "meta": {"tags": ["x", "\\udfff"]}}]'
    with pytest.raises(ImportFormatError) as info:
        _read(data, iter(lambda: 1 << 16, None))
    assert str(info.value).startswith('row 1: field "meta": lone surrogate U+DFFF')


def test_csv_and_jsonl_keep_backslash_u_as_text() -> None:
    csv_text = [r.text for r in iter_records(io.BytesIO(b"text\nsee \\ud800\n"), "csv")]
    assert csv_text == ["see \\ud800"]
    line = b'{"text": "see \\\\ud800"}\n'
    assert [r.text for r in iter_records(io.BytesIO(line), "jsonl")] == ["see \\ud800"]


def test_scan_holds_back_a_high_surrogate_until_its_pair_can_be_seen() -> None:
    data = b'"abc \\ud83d'
    judged, lone = surrogates.scan(data, final=False)
    assert lone is None and judged <= data.index(b"\\")
    assert surrogates.scan(data, final=True) == (data.index(b"\\"), data.index(b"\\"))
