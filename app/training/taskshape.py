"""What a project's items are, as far as features go: one text, several fields, or sentences.

Apart from ``shapes`` (which featurises them) so that the API can read a project's shape
without loading scikit-learn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.projects.shape import CLASSIFICATION, SENTENCE_SELECTION, TEXT


@dataclass(frozen=True)
class Shape:
    """What a project's items are, as far as features go (``Project.task``, ``item_fields``)."""

    task: str = CLASSIFICATION
    fields: tuple[str, ...] = ()
    primary: str = TEXT

    @classmethod
    def of(cls, project: Any) -> Shape:
        fields = tuple(project.item_fields or ())
        return cls(project.task or CLASSIFICATION, fields, project.primary_field or TEXT)

    @property
    def sentences(self) -> bool:
        return self.task == SENTENCE_SELECTION

    @property
    def multi_field(self) -> bool:
        return len(self.fields) > 1 and not self.sentences

    @property
    def plain(self) -> bool:
        """One text per item, featurised exactly as before task shapes existed."""
        return not (self.sentences or self.multi_field)

    @property
    def key(self) -> tuple[str, ...]:
        """What decides the features: two shapes of one key featurise items alike."""
        if self.sentences:
            return ("sentences",)
        return ("fields", *self.fields) if self.multi_field else ("text",)

    def texts_of_item(self, fields: dict[str, str] | None, text: str) -> list[str]:
        """The item's text of each field in ``fields`` order (a missing field is empty; the
        primary field is ``Item.text``)."""
        found = fields or {}
        return [text if name == self.primary else found.get(name, "") for name in self.fields]


PLAIN = Shape()
