"""A project's task shape: what its items are (named text fields, or sentences of documents),
which field is primary, and how the fields are laid out; defaults per task live here only.

Stored on the project as ``task``, ``item_fields`` (``[]`` for the one field ``text``),
``primary_field`` and ``layout``.
"""

from __future__ import annotations

import re
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, model_validator

Task = Literal["classification", "translation_review", "sentence_selection"]
Layout = Literal["stacked", "side_by_side"]
CLASSIFICATION = "classification"
TRANSLATION_REVIEW = "translation_review"
SENTENCE_SELECTION = "sentence_selection"
TEXT = "text"
MAX_FIELDS = 10
FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
# Keys an export writes next to the fields: a field of the same name would be ambiguous.
RESERVED = frozenset(
    {
        "id",
        "item_id",
        "external_id",
        "label",
        "labels",
        "final_label",
        "final_labels",
        "annotator",
        "label_source",
        "annotated_at",
        "outcome",
        "correction",
        "document_id",
        "document",
        "position",
        "start",
        "end",
    }
)
# The labels a project of the task gets when it names none.
DEFAULT_LABELS: dict[str, list[str]] = {
    SENTENCE_SELECTION: ["include", "exclude"],
    TRANSLATION_REVIEW: ["ok", "mistranslation", "omission", "addition", "grammar", "terminology"],
}
_DEFAULTS: dict[str, tuple[list[str], str, str]] = {  # fields, primary, layout
    CLASSIFICATION: ([TEXT], TEXT, "stacked"),
    TRANSLATION_REVIEW: (["source", "translation"], "translation", "side_by_side"),
    SENTENCE_SELECTION: ([TEXT], TEXT, "stacked"),
}


class Shape(BaseModel):
    """A checked shape; fields left out take the task's defaults."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    task: Task = "classification"
    fields: list[str] = Field(default_factory=list, max_length=MAX_FIELDS)
    primary_field: str = ""
    layout: Layout | None = None

    @model_validator(mode="after")
    def _complete(self) -> Shape:
        fields, primary, layout = _DEFAULTS[self.task]
        fields = list(self.fields) or fields
        _check_names(fields)
        _check_task(self.task, fields)
        primary = self.primary_field or (primary if primary in fields else fields[0])
        if primary not in fields:
            raise ValueError(
                f"the primary field {primary!r} is not one of the fields: {', '.join(fields)}"
            )
        object.__setattr__(self, "fields", fields)
        object.__setattr__(self, "primary_field", primary)
        object.__setattr__(self, "layout", self.layout or layout)
        return self

    @classmethod
    def of(cls, project: Any) -> Shape:
        """The shape a project stores (trusted: it was checked when stored)."""
        return cls.model_construct(
            task=cast(Task, project.task or CLASSIFICATION),
            fields=list(project.item_fields or []) or [TEXT],
            primary_field=project.primary_field or TEXT,
            layout=project.layout or "stacked",
        )

    @property
    def stored_fields(self) -> list[str]:
        """``Project.item_fields``: empty for the one field ``text``."""
        return [] if self.fields == [TEXT] else list(self.fields)

    @property
    def multi_field(self) -> bool:
        """Whether items keep their fields in ``Item.fields`` (more than one text, or one
        named otherwise than ``text``)."""
        return bool(self.stored_fields)

    @property
    def sentences(self) -> bool:
        return self.task == SENTENCE_SELECTION

    @property
    def corrections(self) -> bool:
        return self.task == TRANSLATION_REVIEW

    def same_items(self, other: Shape) -> bool:
        """Whether items imported for one fit the other (the layout is presentation only)."""
        return (self.task, self.fields, self.primary_field) == (
            other.task,
            other.fields,
            other.primary_field,
        )


def _check_names(fields: list[str]) -> None:
    for name in fields:
        if not FIELD_NAME.match(name):
            raise ValueError(
                f"field name {name!r}: use 1 to 40 lower-case letters, digits or _, "
                "starting with a letter"
            )
        if name in RESERVED:
            raise ValueError(f"field name {name!r} is reserved (an export key)")
    if len(set(fields)) != len(fields):
        raise ValueError("field names must be unique")


def _check_task(task: str, fields: list[str]) -> None:
    if task == TRANSLATION_REVIEW and not {"source", "translation"} <= set(fields):
        raise ValueError("a translation_review project needs the fields source and translation")
    if task == SENTENCE_SELECTION and fields != [TEXT]:
        raise ValueError(
            "a sentence_selection project's items are sentences: it has the one field text"
        )
