"""What an upload's first bytes say about how to read it: its encoding and its delimiter.

The preview and the import sniff the same sample (the first ``SNIFF_BYTES``) with the same
functions, so the file is imported exactly as the preview showed it.
"""

from __future__ import annotations

import codecs
import csv
import io

from charset_normalizer import from_bytes

SNIFF_BYTES = 64 * 1024
UTF8 = "utf-8"
# Legacy encodings tried when a file is not UTF-8, most likely first: a tie goes to the first
# (charset-normalizer cannot tell Windows-1252 from -1250 on a few accented words).
LEGACY: tuple[str, ...] = (
    *("cp1252", "cp1250", "cp1251", "cp1253", "cp1254", "cp1257"),
    *("cp932", "gb18030", "big5", "cp949", "koi8_r"),
)
_MAX_CHAOS = 0.25  # a guess messier than this is no guess: the file is UTF-8 with bad bytes
NAMES = {
    UTF8: "UTF-8",
    "cp1252": "Windows-1252 (Western European)",
    "cp1250": "Windows-1250 (Central European)",
    "cp1251": "Windows-1251 (Cyrillic)",
    "cp1253": "Windows-1253 (Greek)",
    "cp1254": "Windows-1254 (Turkish)",
    "cp1257": "Windows-1257 (Baltic)",
    "cp932": "Shift JIS",
    "gb18030": "GB18030",
    "big5": "Big5",
    "cp949": "EUC-KR",
    "koi8_r": "KOI8-R",
}
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_SNIFF_LINES = 50
_SNIFF_CHARS = 16 * 1024


def encoding_of(sample: bytes, *, complete: bool) -> str:
    """The codec to read a file with, judged by its first bytes (BOM already removed).

    UTF-8 when the sample is valid UTF-8, or holds valid multi-byte UTF-8 before its first bad
    byte (then the bad byte is an error to report, not a sign of another encoding); otherwise
    the likeliest of ``LEGACY`` by charset-normalizer, else UTF-8 (and its error).
    """
    try:
        codecs.utf_8_decode(sample, "strict", complete)
        return UTF8
    except UnicodeDecodeError as exc:
        if not sample[: exc.start].isascii() or exc.reason == "unexpected end of data":
            return UTF8  # UTF-8 before the bad byte, or cut short in a character
    matches = [m for m in from_bytes(sample, cp_isolation=list(LEGACY)) if m.chaos <= _MAX_CHAOS]
    if not matches:
        return UTF8
    best = min(matches, key=lambda m: (round(m.chaos, 2), -round(m.coherence, 2), _rank(m)))
    return _same_as_first(sample, str(best.encoding))


def _same_as_first(sample: bytes, codec: str) -> str:
    """``LEGACY[0]`` if it reads ``sample`` exactly as ``codec`` does (the accents of most
    Western text are alike in Windows-1250 and -1252), else ``codec``."""
    try:
        alike = sample.decode(LEGACY[0]) == sample.decode(codec, errors="replace")
    except UnicodeDecodeError:
        return codec
    return LEGACY[0] if alike else codec


def _rank(match: object) -> int:
    encoding = getattr(match, "encoding", "")
    return LEGACY.index(encoding) if encoding in LEGACY else len(LEGACY)


def encoding_name(codec: str) -> str:
    """How people call the encoding: "UTF-8", "Windows-1252 (Western European)"."""
    return NAMES.get(codec, codec)


def delimiter_of(text: str, default: str) -> str:
    """The delimiter of a delimited file whose decoded start is ``text``.

    ``default`` (the one the format's name promises) when it splits the header into columns
    that the next lines keep; else the one csv.Sniffer finds among ``DELIMITERS``, if it splits
    the header; else ``default`` (the missing-column message then shows the one column).
    """
    lines = text[:_SNIFF_CHARS].splitlines(keepends=True)[:_SNIFF_LINES]
    sample = "".join(line for line in lines if line.strip())
    if not sample or _fits(sample, default):
        return default
    try:
        found = csv.Sniffer().sniff(sample, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        return default
    return found if _columns(sample, found)[0] > 1 else default


def _fits(sample: str, delimiter: str) -> bool:
    """Whether ``delimiter`` splits the header and most of the next rows alike."""
    header, widths = _columns(sample, delimiter)
    if header < 2:
        return False
    return not widths or sum(w == header for w in widths) * 2 > len(widths)


def _columns(sample: str, delimiter: str) -> tuple[int, list[int]]:
    """How many fields the first row has under ``delimiter``, and each next row."""
    try:
        rows = list(csv.reader(io.StringIO(sample), delimiter=delimiter))
    except csv.Error:
        return 0, []
    if not rows:
        return 0, []
    return len(rows[0]), [len(row) for row in rows[1:-1] or rows[1:]]


def delimiter_name(delimiter: str) -> str:
    """How the preview names a delimited file: "semicolon-separated"."""
    return f"{DELIMITERS.get(delimiter, repr(delimiter))}-separated"
