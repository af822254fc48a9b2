"""Documents split into sentences (pysbd, rule-based and offline), as character spans that
reproduce the document's text exactly: ``text[start:end]`` is the sentence, in order, and
only whitespace lies between two sentences."""

from __future__ import annotations

from functools import cache

import pysbd  # type: ignore[import-untyped]  # pysbd ships no type hints

MAX_SENTENCES = 10_000  # per document: a longer one is refused (a book is many documents)


@cache
def _segmenter() -> pysbd.Segmenter:
    # clean=False: the segments are the text's own characters (clean=True rewrites them).
    return pysbd.Segmenter(language="en", clean=False)


def split(text: str) -> list[tuple[int, int]]:
    """The (start, end) of each sentence of ``text``, whitespace trimmed, in order."""
    spans = []
    for start, end in _segments(text):
        piece = text[start:end]
        if not piece.strip():
            continue
        start += len(piece) - len(piece.lstrip())
        end -= len(piece) - len(piece.rstrip())
        spans.append((start, end))
    return spans


def _segments(text: str) -> list[tuple[int, int]]:
    """pysbd's segments placed in ``text``: end to end when they add up to it (the usual
    case), else found one after the other; what cannot be placed stays in one last span."""
    segments = [str(s) for s in _segmenter().segment(text)]
    spans, cursor = [], 0
    exact = "".join(segments) == text
    for segment in segments:
        at = cursor if exact else text.find(segment, cursor)
        if at < 0:
            break
        spans.append((cursor, at + len(segment)))  # any skipped text goes with the sentence
        cursor = at + len(segment)
    if cursor < len(text):
        spans.append((cursor, len(text)))
    return spans
