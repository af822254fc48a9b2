"""Which columns of a previewed file hold the text, the label and the id, judged by content.

Names mislead (``msg_id`` sorts before ``utterance``; ``text`` may hold codes), so the values
decide: the text is the column of long, varied, wordy values, never one of ids or numbers; the
label is a column whose values are the project's labels (or, failing that, a few repeated
words under a label-like name); the id is a column of distinct short tokens named like an id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.items.formats.base import Preview

_NUMBER = re.compile(r"^[+-]?\d+([.,]\d+)*$")
_TOKEN = re.compile(r"^\S{1,64}$")
_DIGIT = re.compile(r"\d")
_LABEL_NAMES = ("label", "labels", "category", "class", "intent", "tag", "tags", "topic")
_MIN_LABEL_MATCH = 0.8  # share of a column's values that must be project labels


@dataclass(frozen=True)
class Mapping:
    """The columns the mapping form preselects; "" for none."""

    text: str
    label: str
    id: str


def guess_mapping(found: Preview, labels: list[str], *, multi_label: bool) -> Mapping:
    """Guess the text, label and id columns of ``found`` for a project with ``labels``."""
    columns = {name: _values(found, index) for index, name in enumerate(found.columns) if name}
    label = _matching_labels(columns, set(labels), multi_label)
    text = _text_column({name: v for name, v in columns.items() if name != label})
    rest = {name: values for name, values in columns.items() if name not in (label, text)}
    label = label or _label_like(rest)
    rest.pop(label, None)
    return Mapping(text=text, label=label, id=_id_column(rest))


def _values(found: Preview, index: int) -> list[str]:
    """The non-blank values of one column in the sampled rows, stripped."""
    cells = (row[index].strip() for row in found.rows if index < len(row))
    return [cell for cell in cells if cell]


def _text_column(columns: dict[str, list[str]]) -> str:
    """The column with the longest, most varied, wordy values; never ids or numbers."""
    scores = {name: _text_score(values) for name, values in columns.items()}
    candidates = {name: score for name, score in scores.items() if score > 0}
    if not candidates:  # nothing reads like text: the first column that is not all numbers
        plain = [n for n, v in columns.items() if not all(_NUMBER.match(x) for x in v)]
        return (plain or list(columns) or [""])[0]
    return max(candidates, key=lambda name: candidates[name])


def _text_score(values: list[str]) -> float:
    """Average length times the share of distinct values, doubled for values with spaces;
    0 for numbers and for codes (no spaces, a digit in each: ids, hashes, dates)."""
    words = [v for v in values if not _NUMBER.match(v)]
    if not words or len(words) * 2 < len(values):
        return 0.0
    if all(" " not in v and _DIGIT.search(v) for v in words):
        return 0.0
    mean_length = sum(map(len, words)) / len(words)
    distinct = len(set(words)) / len(words)
    spaced = sum(" " in v for v in words) / len(words)
    return mean_length * distinct * (1 + spaced)


def _matching_labels(columns: dict[str, list[str]], labels: set[str], multi_label: bool) -> str:
    """The column whose values are most often the project's labels (at least 80 %)."""
    best, best_share = "", 0.0
    for name, values in columns.items():
        share = _label_share(values, labels, multi_label)
        if share >= _MIN_LABEL_MATCH and share > best_share:
            best, best_share = name, share
    return best


def _label_like(columns: dict[str, list[str]]) -> str:
    """A column with a label-like name ("intent", "category"...) over a few repeated words."""
    for name, values in columns.items():
        if name.strip().lower() in _LABEL_NAMES and _few_repeated(values):
            return name
    return ""


def _label_share(values: list[str], labels: set[str], multi_label: bool) -> float:
    if not values:
        return 0.0
    split = [v.split("|") if multi_label else [v] for v in values]
    hits = sum(all(part.strip() in labels for part in parts) for parts in split)
    return hits / len(values)


def _few_repeated(values: list[str]) -> bool:
    """Whether ``values`` repeat (at most half distinct) and none of them is a number."""
    if not values or any(_NUMBER.match(v) for v in values):
        return False
    return len(values) < 4 or len(set(values)) * 2 <= len(values)


def _id_column(columns: dict[str, list[str]]) -> str:
    """The first column named like an id whose values are distinct short tokens."""
    for name, values in columns.items():
        if not name.strip().lower().endswith(("id", "key")):
            continue
        if values and len(set(values)) == len(values) and all(_TOKEN.match(v) for v in values):
            return name
    return ""
