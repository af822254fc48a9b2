"""Names and labels that people read and pick: one spelling per look, nothing invisible.

Unicode lets strings look alike and differ: a decomposed "é", a zero-width space inside
"spam", a right-to-left override that shows "spam" backwards, full-width "ｓｐａｍ". As labels
the database would tell them apart while the annotator choosing one cannot; as names they
impersonate each other. These checks run wherever a name or a label set is written.
"""

from __future__ import annotations

import unicodedata

# Control (Cc), format (Cf: zero-width and bidi controls such as U+200B, U+202E, U+2066),
# private-use (Co), surrogate (Cs) and the line and paragraph separators (Zl, Zp): none of
# them shows as itself in a name, so none belongs in one.
_INVISIBLE = frozenset(("Cc", "Cf", "Co", "Cs", "Zl", "Zp"))


def clean_name(value: str, what: str) -> str:
    """``value`` stripped and NFC-normalised, so one look is stored as one string.

    Raises ValueError (its message names ``what`` and the code point) for a blank value or one
    holding an invisible or control character; callers turn it into their 422.
    """
    cleaned = unicodedata.normalize("NFC", value.strip())
    if not cleaned:
        raise ValueError(f"{what} must not be blank")
    for char in cleaned:
        if unicodedata.category(char) in _INVISIBLE:
            raise ValueError(
                f"{what} {cleaned!r} contains an invisible or control character U+{ord(char):04X}"
            )
    return cleaned


def clean_label(value: str) -> str:
    """A label, by the rules of :func:`clean_name`."""
    return clean_name(value, "label")


def label_key(value: str) -> str:
    """What two labels are compared by: NFKC and casefolded, so "spam", "SPAM" and full-width
    "ｓｐａｍ" are one label and a label set may hold only one of them. (NFKC again after the
    casefold, as Unicode's caseless identifier match does: casefolding can undo NFKC.)"""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())
