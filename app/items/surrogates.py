"""Find lone surrogate escapes ("\\ud800" without its pair) in the raw bytes of a JSON file.

ijson's C backend (yajl) reads a lone high surrogate escape as "?" and a lone low one as
bytes it cannot decode, so neither reaches the import as what the file says. The upload's
reader scans the bytes before the parser sees them and stops at the first lone escape, the
way it stops at a byte that is not UTF-8.

Scanning runs on consecutive pieces of the file. A piece must start at an escape boundary:
not inside a run of backslashes, not between the two escapes of a pair. :func:`scan` returns
how much of its piece is judged, and that length always ends at such a boundary, and at a
UTF-8 character boundary (the reader checks UTF-8 from there on too).
"""

from __future__ import annotations

import re

# Cheap test first: most files hold no surrogate escape at all, pairs (emoji) included.
_SURROGATE_LIKE = re.compile(rb"\\u[dD][89a-fA-F]")
# One escape, left to right, so "\\" (an escaped backslash) is never read as an escape's
# start: a surrogate pair (group 1), a lone surrogate (group 2), or any other escape.
_ESCAPE = re.compile(
    rb"\\(?:(u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|(u[dD][89a-fA-F][0-9a-fA-F]{2})|.)",
    re.DOTALL,
)
_PAIR_BYTES = 12  # the longest escape token: two \uXXXX escapes
_BACKSLASH = 0x5C


def scan(data: bytes, *, final: bool) -> tuple[int, int | None]:
    """Judge the escapes of ``data``, a piece of the file starting at an escape boundary.

    Returns ``(judged, lone)``: ``data[:judged]`` is checked and ends at an escape boundary
    (the rest must be scanned again with what follows it), and ``lone`` is the offset of the
    first lone surrogate escape, when there is one (then ``judged`` is that offset). Unless
    ``final``, the last bytes stay unjudged: a high surrogate there may be paired next.
    """
    limit = len(data) if final else max(0, len(data) - _PAIR_BYTES)
    if not _SURROGATE_LIKE.search(data):
        return _cut(data, limit), None
    judged = _cut(data, limit)
    for escape in _ESCAPE.finditer(data):
        start = escape.start()
        if start >= limit:  # every escape before this one is judged
            return start, None
        if escape.group(2):
            return start, start
        if escape.group(1) and escape.end() > judged:  # never cut a pair in two
            judged = escape.end()
    return judged, None


def escape_at(data: bytes, offset: int) -> int:
    """The code point of the \\uXXXX escape at ``offset`` of ``data``."""
    return int(data[offset + 2 : offset + 6], 16)


def _cut(data: bytes, end: int) -> int:
    """``end``, moved back to a character boundary and before any backslashes just before it:
    an escape boundary (see the module), where the next piece may start."""
    while 0 < end < len(data) and data[end] & 0xC0 == 0x80:  # a UTF-8 continuation byte
        end -= 1
    while end > 0 and data[end - 1] == _BACKSLASH:
        end -= 1
    return end
