"""The mapping form's columns are guessed from the values, not the names."""

from __future__ import annotations

from app.items.formats.base import Preview
from app.items.formats.guess import Mapping, guess_mapping

INTENTS = ["get_physical_card", "lost_card", "greet", "fees"]
UTTERANCES = [
    ("how do I get a physical card", "get_physical_card"),
    ("my card is lost", "lost_card"),
    ("hi", "greet"),
    ("what is the fee for transfers", "fees"),
    ("I lost my card again", "lost_card"),
]


def _preview(columns: list[str], rows: list[list[str]]) -> Preview:
    return Preview(columns, rows)


def test_text_is_the_long_varied_column_and_an_id_column_never_wins() -> None:
    rows = [[f"m{i:03d}", text, label] for i, (text, label) in enumerate(UTTERANCES)]
    guess = guess_mapping(
        _preview(["msg_id", "utterance", "intent"], rows), INTENTS, multi_label=False
    )
    assert guess == Mapping(text="utterance", label="intent", id="msg_id")


def test_numbers_and_codes_never_win_the_text() -> None:
    rows = [[str(1000 + i), f"a7f3c9e2-{i:04d}", t] for i, (t, _) in enumerate(UTTERANCES)]
    guess = guess_mapping(_preview(["n", "hash", "words"], rows), INTENTS, multi_label=False)
    assert guess.text == "words"


def test_label_is_the_column_whose_values_are_the_projects_labels() -> None:
    rows = [[label, text, "en"] for text, label in UTTERANCES]
    guess = guess_mapping(_preview(["y", "x", "lang"], rows), INTENTS, multi_label=False)
    assert (guess.text, guess.label, guess.id) == ("x", "y", "")


def test_multi_label_cells_match_when_every_label_is_known() -> None:
    rows = [[text, f"{label}|greet"] for text, label in UTTERANCES]
    guess = guess_mapping(_preview(["text", "tags"], rows), INTENTS, multi_label=True)
    assert guess.label == "tags"


def test_a_label_named_column_of_repeated_words_is_guessed_without_matching() -> None:
    rows = [[text, "pos" if i % 2 else "neg"] for i, (text, _) in enumerate(UTTERANCES)]
    guess = guess_mapping(_preview(["review", "sentiment"], rows), ["a"], multi_label=False)
    assert guess.label == ""
    guess = guess_mapping(_preview(["review", "category"], rows), ["a"], multi_label=False)
    assert guess.label == "category"


def test_a_column_of_varied_non_labels_is_no_label() -> None:
    rows = [[f"m{i}", text, text.split()[0]] for i, (text, _) in enumerate(UTTERANCES)]
    guess = guess_mapping(_preview(["id", "text", "intent"], rows), ["x"], multi_label=False)
    assert guess == Mapping(text="text", label="", id="id")


def test_an_id_must_be_distinct_tokens() -> None:
    rows = [["7", text] for text, _ in UTTERANCES]
    assert guess_mapping(_preview(["id", "text"], rows), [], multi_label=False).id == ""


def test_an_empty_preview_guesses_nothing() -> None:
    assert guess_mapping(_preview([], []), INTENTS, multi_label=False) == Mapping("", "", "")
