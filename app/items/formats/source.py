"""The bytes layer under every reader: BOM stripped, UTF-16 and binary files refused, and the
stream cut just before its first bad byte (invalid UTF-8, NUL, a lone surrogate escape)."""

from __future__ import annotations

import codecs
import io
from typing import Any, BinaryIO

from app import jsonbody
from app.items import surrogates
from app.items.formats.base import BadValue, ImportFormatError, ReadProblem

CHUNK_BYTES = 64 * 1024
_UTF8_BOM = codecs.BOM_UTF8
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_SIGNATURES = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF-": "a PDF document",
    b"PK\x03\x04": "a ZIP archive (an Excel .xlsx file?)",
    b"\xd0\xcf\x11\xe0": "an Office document (an Excel .xls file?)",
    b"\x1f\x8b": "a gzip archive",
}


class Source(io.RawIOBase):
    """The upload as a raw stream: BOM stripped, ending just before the first bad byte.

    The bad byte (invalid UTF-8 or NUL) raises ReadProblem on the read after the good bytes,
    so parsers meet it while reading the record that holds it, and can name that record.
    With ``surrogate_escapes`` (JSON read by ijson), a lone surrogate escape is a bad byte too.
    """

    def __init__(self, stream: BinaryIO, *, surrogate_escapes: bool = False) -> None:
        super().__init__()
        self._stream = stream
        self._surrogate_escapes = surrogate_escapes
        self._unchecked = _read_head(stream)
        self._offset = len(_UTF8_BOM) if self._unchecked.startswith(_UTF8_BOM) else 0
        self._unchecked = self._unchecked[self._offset :]
        self._ready = b""
        self._carry = b""
        self._error: ReadProblem | None = None
        self._eof = False
        self.has_content = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._ready and self._error is None and not self._eof:
            self._fill()
        if not self._ready and self._error is not None:
            raise self._error
        size = min(len(buffer), len(self._ready))
        buffer[:size] = self._ready[:size]
        self._ready = self._ready[size:]
        return size

    def _fill(self) -> None:
        chunk = self._unchecked or self._stream.read(CHUNK_BYTES)
        self._unchecked = b""
        self._eof = not chunk
        data = self._carry + chunk
        good, bad = _valid_utf8(data, final=self._eof)
        nul = data.find(b"\x00", 0, good)
        if nul >= 0:
            good = bad = nul
        if bad is not None:
            self._error = ReadProblem(_bad_byte_message(data[bad], self._offset + bad))
        if self._surrogate_escapes:
            good = self._judge_escapes(data, good, final=self._eof or bad is not None)
        self._ready, self._carry = data[:good], data[good:]
        self.has_content = self.has_content or not (self._ready.isspace() or not self._ready)
        self._offset += good

    def _judge_escapes(self, data: bytes, good: int, *, final: bool) -> int:
        """How much of ``data[:good]`` to hand on; a lone surrogate escape is the error there."""
        judged, lone = surrogates.scan(data[:good], final=final)
        if lone is not None:
            code = surrogates.escape_at(data, lone)
            self._error = BadValue(jsonbody.surrogate_problem(code))
        return judged


def _read_head(stream: BinaryIO) -> bytes:
    """Read the first chunk, refusing files that are UTF-16 or a known binary format."""
    head = b""
    while len(head) < 8:
        part = stream.read(CHUNK_BYTES)
        if not part:
            break
        head += part
    if head.startswith(_UTF16_BOMS):
        raise ImportFormatError("the file is UTF-16; save it as UTF-8")
    for signature, kind in _SIGNATURES.items():
        if head.startswith(signature):
            raise ImportFormatError(f"the file is {kind}, not text; upload CSV, TSV, JSONL or JSON")
    return head


def _valid_utf8(data: bytes, *, final: bool) -> tuple[int, int | None]:
    """Return the length of the valid UTF-8 prefix and the offset of an invalid byte, if any."""
    try:
        return codecs.utf_8_decode(data, "strict", final)[1], None
    except UnicodeDecodeError as exc:
        return exc.start, exc.start


def _bad_byte_message(byte: int, offset: int) -> str:
    if byte == 0:
        return f"the file contains a NUL byte (at byte {offset}); is it a binary file?"
    return f"the file is not valid UTF-8 (byte 0x{byte:02X} at byte {offset}); save it as UTF-8"
