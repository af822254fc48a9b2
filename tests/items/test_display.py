"""How an item is shown: fields in the project's order, a sentence's document cut around it."""

from __future__ import annotations

from app.items.display import WINDOW, _cut_after, _cut_before, fields_of
from app.models import Item, Project


def test_fields_follow_the_projects_order_and_mark_the_primary() -> None:
    project = Project(item_fields=["source", "translation"], primary_field="translation")
    item = Item(text="hello", fields={"translation": "hello", "note": "n", "source": "hallo"})
    shown = [(f.name, f.text, f.primary) for f in fields_of(project, item)]
    assert shown == [
        ("source", "hallo", False),
        ("translation", "hello", True),
        ("note", "n", False),  # a field the project does not name comes last
    ]


def test_a_single_text_is_one_primary_field() -> None:
    project = Project(item_fields=[], primary_field="text")
    assert [(f.name, f.primary) for f in fields_of(project, Item(text="x"))] == [("text", True)]


def test_long_context_is_cut_at_a_space_and_short_context_kept() -> None:
    words = " ".join(f"w{i}" for i in range(3 * WINDOW))
    before, after = _cut_before(words), _cut_after(words)
    assert before.startswith("… w") and words.endswith(before[2:])
    assert after.endswith(" …") and words.startswith(after[:-2])
    assert len(before) <= WINDOW + 2 and len(after) <= WINDOW + 2
    assert _cut_before("short text") == "short text" == _cut_after("short text")
