"""What a prediction request gives, checked against the project's item shape: texts for one
text per item, items with every field for several fields, documents split into sentences for
sentence selection (a sentence's features need its neighbours: its document's vector and its
position, so sentences are sent with their documents, already split)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from app.errors import Invalid, PayloadTooLarge
from app.training.taskshape import Shape


@dataclass(frozen=True)
class Inputs:
    """Texts to predict, one list per field (one list for a single text or a sentence);
    for sentences, each one's document index, position and its document's sentence count."""

    columns: list[list[str]]
    # Sentences: (documents, positions, n_sentences), (n,) each, as ``sentence_features``.
    places: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def texts(self) -> list[str]:
        """Every text of the request (what the character budget counts)."""
        return [text for column in self.columns for text in column]


def inputs(
    shape: Shape,
    *,
    texts: Sequence[str] | None,
    items: Sequence[dict[str, str]] | None,
    documents: Sequence[Sequence[str]] | None,
) -> Inputs:
    """The request's texts in the shape's order (exactly one of the three is given).

    Raises:
        Invalid: the request does not fit the shape, or an item misses or adds a field
            (the message names the item and the field).
    """
    if shape.sentences:
        if documents is None:
            raise Invalid(
                "this project selects sentences of documents: send "
                '{"documents": [{"sentences": ["...", "..."]}]}'
            )
        return _sentences(documents)
    if shape.multi_field:
        if items is None:
            raise Invalid(
                f"this project's items have the fields {', '.join(shape.fields)}: send "
                '{"items": [{"fields": {...}}]}'
            )
        return Inputs([_field(shape, items, name) for name in shape.fields])
    if texts is None:
        raise Invalid('this project\'s items are one text each: send {"texts": ["..."]}')
    return Inputs([list(texts)])


def _field(shape: Shape, items: Sequence[dict[str, str]], name: str) -> list[str]:
    for row, fields in enumerate(items):
        if name not in fields:
            raise Invalid(f"items[{row}].fields: missing the field {name!r}")
        unknown = sorted(set(fields) - set(shape.fields))
        if unknown:
            raise Invalid(
                f"items[{row}].fields: unknown field {unknown[0]!r}; the project's fields are "
                f"{', '.join(shape.fields)}"
            )
    return [fields[name] for fields in items]


def _sentences(documents: Sequence[Sequence[str]]) -> Inputs:
    texts = [sentence for sentences in documents for sentence in sentences]
    sizes = np.array([len(sentences) for sentences in documents], dtype=np.int64)
    places = (
        np.repeat(np.arange(sizes.size), sizes),
        np.concatenate([np.arange(size) for size in sizes]).astype(np.int64),
        np.repeat(sizes, sizes),
    )
    return Inputs([texts], places)


def within_budget(texts: Sequence[str], max_chars: int) -> None:
    """Refuse (413) texts that together are over ``max_chars``, before any model work.

    What a prediction costs grows with the characters it reads (TF-IDF n-grams, MiniLM's
    tokenizer reads a whole text before truncating it): 160 texts of 100k characters took
    13 CPU seconds, and four such requests slowed every other request about 20 times.
    """
    total = sum(map(len, texts))
    if total > max_chars:
        raise PayloadTooLarge(
            f"the texts total {total:,} characters, over the limit of {max_chars:,} "
            "characters per predict request (LABELLOOP_PREDICT_MAX_CHARS): send fewer or "
            "shorter texts"
        )
