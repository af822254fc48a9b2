"""The bytes layer under every reader: BOM stripped, UTF-16 and binary files refused, a file in
a legacy encoding (sniffed) transcoded to UTF-8, and the stream cut just before its first bad
byte (invalid in its encoding, NUL, a lone surrogate escape)."""

from __future__ import annotations

import codecs
import io
from typing import Any, BinaryIO

from app import jsonbody
from app.items import surrogates
from app.items.formats.base import BadValue, ImportFormatError, ReadProblem
from app.items.formats.sniff import SNIFF_BYTES, UTF8, encoding_name, encoding_of

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
    """The upload as a raw UTF-8 stream: BOM stripped, ending just before the first bad byte.

    The bad byte (invalid in the file's encoding, or NUL) raises ReadProblem on the read after
    the good bytes, so parsers meet it while reading the record that holds it, and can name
    that record. With ``legacy_encodings``, a file that is not UTF-8 (``encoding``, sniffed
    from its first bytes unless it starts with a UTF-8 BOM) is decoded and handed on as UTF-8.
    With ``surrogate_escapes``
    (JSON read by ijson), a lone surrogate escape is a bad byte too.
    """

    def __init__(
        self, stream: BinaryIO, *, surrogate_escapes: bool = False, legacy_encodings: bool = False
    ) -> None:
        super().__init__()
        self._stream = stream
        self._surrogate_escapes = surrogate_escapes
        head = _read_head(stream)
        self.encoding = sniff_head(head) if legacy_encodings else UTF8
        self._decoder = None
        if self.encoding != UTF8:
            self._decoder = codecs.getincrementaldecoder(self.encoding)("strict")
        self._offset = len(_UTF8_BOM) if head.startswith(_UTF8_BOM) else 0
        self._unchecked = self._head = head[self._offset :]
        self._raw_offset = self._offset  # bytes of the upload read, for a legacy file's errors
        self._ready = b""
        self._carry = b""
        self._error: ReadProblem | None = None
        self._pending: ReadProblem | None = None  # a legacy file's bad byte, after its good ones
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

    def head_text(self) -> str:
        """The first bytes of the upload, decoded as they will be read (for sniffing)."""
        return self._head[:SNIFF_BYTES].decode(self.encoding, errors="replace")

    def _fill(self) -> None:
        chunk = self._unchecked or self._stream.read(CHUNK_BYTES)
        self._unchecked = b""
        self._eof = not chunk
        if self._decoder is not None:
            chunk = self._transcode(chunk)
        data = self._carry + chunk
        good, bad = _valid_utf8(data, final=self._eof)
        nul = data.find(b"\x00", 0, good)
        if nul >= 0:
            good = bad = nul
        if bad is not None:
            self._error = ReadProblem(bad_byte_message(data[bad], self._offset + bad))
        elif self._pending is not None:
            self._error, self._pending = self._pending, None
        if self._surrogate_escapes:
            good = self._judge_escapes(data, good, final=self._eof or bad is not None)
        self._ready, self._carry = data[:good], data[good:]
        self.has_content = self.has_content or not (self._ready.isspace() or not self._ready)
        self._offset += good

    def _transcode(self, chunk: bytes) -> bytes:
        """Decode a chunk of a legacy-encoded upload into UTF-8, up to its first bad byte."""
        assert self._decoder is not None
        nul = chunk.find(b"\x00")
        good = chunk if nul < 0 else chunk[:nul]
        final = self._eof or nul >= 0
        try:
            text = self._decoder.decode(good, final)
        except UnicodeDecodeError as exc:  # exc.object: what the decoder held, then `good`
            start = max(0, exc.start - (len(exc.object) - len(good)))
            text = good[:start].decode(self.encoding, errors="ignore")
            name = encoding_name(self.encoding)
            offset = self._raw_offset + start
            self._pending = ReadProblem(bad_byte_message(exc.object[exc.start], offset, name))
            final = True
        if nul >= 0 and self._pending is None:
            self._pending = ReadProblem(bad_byte_message(0, self._raw_offset + nul))
        self._raw_offset += len(chunk)
        self._eof = self._eof or final
        return text.encode(UTF8)

    def _judge_escapes(self, data: bytes, good: int, *, final: bool) -> int:
        """How much of ``data[:good]`` to hand on; a lone surrogate escape is the error there."""
        judged, lone = surrogates.scan(data[:good], final=final)
        if lone is not None:
            code = surrogates.escape_at(data, lone)
            self._error = BadValue(jsonbody.surrogate_problem(code))
        return judged


def _read_head(stream: BinaryIO) -> bytes:
    """Read the first SNIFF_BYTES, refusing files that are UTF-16 or a known binary format."""
    head = b""
    while len(head) < SNIFF_BYTES:
        part = stream.read(SNIFF_BYTES - len(head))
        if not part:
            break
        head += part
    check_head(head)
    return head


def sniff_head(head: bytes) -> str:
    """The codec of a file that starts with ``head`` (a BOM says UTF-8)."""
    if head.startswith(_UTF8_BOM):
        return UTF8
    sample = head[:SNIFF_BYTES]
    return encoding_of(sample, complete=len(sample) < SNIFF_BYTES)


def check_head(head: bytes) -> None:
    """Refuse a file that is UTF-16 or a known binary format, by its first bytes."""
    if head.startswith(_UTF16_BOMS):
        raise ImportFormatError("the file is UTF-16; save it as UTF-8")
    for signature, kind in _SIGNATURES.items():
        if head.startswith(signature):
            raise ImportFormatError(f"the file is {kind}, not text; upload CSV, TSV, JSONL or JSON")


def _valid_utf8(data: bytes, *, final: bool) -> tuple[int, int | None]:
    """Return the length of the valid UTF-8 prefix and the offset of an invalid byte, if any."""
    try:
        return codecs.utf_8_decode(data, "strict", final)[1], None
    except UnicodeDecodeError as exc:
        return exc.start, exc.start


def bad_byte_message(byte: int, offset: int, encoding: str = "UTF-8") -> str:
    if byte == 0:
        return f"the file contains a NUL byte (at byte {offset}); is it a binary file?"
    return (
        f"the file is not valid {encoding} (byte 0x{byte:02X} at byte {offset}); save it as UTF-8"
    )
