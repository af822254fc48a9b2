"""Names and labels: one spelling per look (NFC), nothing invisible, look-alikes one key."""

from __future__ import annotations

import pytest

from app.text import clean_label, clean_name, label_key


def test_clean_name_strips_and_composes() -> None:
    assert clean_name("  cafe\u0301 ", "name") == "café"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("sp\u200bam", "U+200B"),  # zero-width space (Cf)
        ("spam\u202e", "U+202E"),  # right-to-left override (Cf)
        ("\u2066spam", "U+2066"),  # left-to-right isolate (Cf)
        ("sp\u00adam", "U+00AD"),  # soft hyphen (Cf)
        ("sp\x1bam", "U+001B"),  # escape (Cc)
        ("sp\tam", "U+0009"),
        ("sp\ue000am", "U+E000"),  # private use (Co)
        ("sp\ud800am", "U+D800"),  # lone surrogate (Cs)
        ("sp\u2028am", "U+2028"),  # line separator (Zl)
        ("sp\u2029am", "U+2029"),  # paragraph separator (Zp)
    ],
)
def test_invisible_and_control_characters_are_refused_by_code_point(value: str, code: str) -> None:
    with pytest.raises(ValueError) as info:
        clean_name(value, "team")
    assert str(info.value).startswith("team '")
    assert str(info.value).endswith(f"contains an invisible or control character {code}")
    with pytest.raises(ValueError) as info:
        clean_label(value)
    assert str(info.value).startswith("label '") and str(info.value).endswith(code)


def test_the_message_shows_the_hidden_character_escaped() -> None:
    with pytest.raises(ValueError) as info:
        clean_label("sp\u200bam")
    assert (
        str(info.value) == "label 'sp\\u200bam' contains an invisible or control character U+200B"
    )


@pytest.mark.parametrize("value", ["", "   ", "\u3000"])
def test_blank_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="name must not be blank"):
        clean_name(value, "name")


@pytest.mark.parametrize("value", ["spam", "naïve", "日本語", "a b", "emoji \U0001f600", "x-y_z"])
def test_ordinary_names_pass_unchanged(value: str) -> None:
    assert clean_name(value, "name") == value


def test_label_key_joins_case_and_compatibility_forms() -> None:
    keys = {label_key(v) for v in ["spam", "SPAM", "Spam", "\uff53\uff50\uff41\uff4d", "ｓｐａｍ"]}
    assert keys == {"spam"}
    assert label_key("Straße") == label_key("STRASSE")
    assert label_key("café") == label_key("CAFE\u0301")
    assert label_key("spam") != label_key("spam2")
