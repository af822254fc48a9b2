"""Project request and response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo

from app.fields import Text
from app.learning.options import STORED, DiversityMethod, Features, QueryOptions, check_strategy
from app.projects.shape import DEFAULT_LABELS, MAX_FIELDS, Layout, Shape, Task
from app.text import clean_label, clean_name, label_key

MAX_LABELS = 1000
MAX_GUIDELINES = 20_000
MAX_DESCRIPTION = 300
GUIDELINES_HELP = (
    "What annotators are told about the task (shown on the annotate screen); an oracle's "
    "prompt starts with it."
)
DESCRIPTIONS_HELP = "One line per label (at most 300 characters), for annotators and oracles."
TASK_HELP = (
    "What an item is: one or more texts to classify, a translation to review (fields source "
    "and translation; corrections), or a sentence of an imported document (sentence_selection)."
)
FIELDS_HELP = (
    "The named text fields of an item (default: the task's: text; source, translation). "
    "Cannot change once the project has items."
)
# Kept in Project.settings; the option fields below are `QueryOptions`'s (types, bounds, help).
OPTIONS = STORED


def _option(name: str) -> Any:
    """The `QueryOptions` field ``name``, with its new-project default."""
    return FieldInfo.merge_field_infos(QueryOptions.model_fields[name])


def _change(name: str) -> Any:
    """The `QueryOptions` field ``name`` as an optional change: None leaves it as it is."""
    return FieldInfo.merge_field_infos(QueryOptions.model_fields[name], default=None)


def _check_distinct(labels: list[str]) -> None:
    """Refuse a label listed twice, or two that differ only in case or compatibility form
    (see label_key): an annotator could not tell which one they pick."""
    seen: dict[str, str] = {}
    for label in labels:
        key = label_key(label)
        other = seen.get(key)
        if other == label:
            raise ValueError(f"labels must be unique: {label!r} is listed twice")
        if other is not None:
            raise ValueError(
                f"labels must be unique: {other!r} and {label!r} differ only in case or form"
            )
        seen[key] = label


def _check_count(labels: list[str], *, multi_label: bool) -> None:
    """Refuse a label set no model can learn: none at all, or a single-label project with one
    label (every item would get it, so there is never a second class to train on)."""
    if multi_label and not labels:
        raise ValueError("a project needs at least one label; none were given")
    if not multi_label and not labels:
        raise ValueError("a single-label project needs at least two labels; none were given")
    if not multi_label and len(labels) == 1:
        raise ValueError(
            f"a single-label project needs at least two labels; only {labels[0]!r} was given: "
            "every item would get it, so no model could be trained. Add another label, or "
            "allow several labels per item (multi-label)"
        )


def check_descriptions(descriptions: dict[str, str], labels: list[str]) -> dict[str, str]:
    """The descriptions of labels of the set, one trimmed line each; blank ones are dropped.
    ValueError names a description of an unknown label, or one too long or on several lines."""
    out = {}
    for label, text in descriptions.items():
        if label not in labels:
            raise ValueError(f"label_descriptions: {label!r} is not a label of the project")
        line = text.strip()
        if "\n" in line or "\r" in line:
            raise ValueError(f"label_descriptions[{label!r}]: one line only")
        if len(line) > MAX_DESCRIPTION:
            raise ValueError(f"label_descriptions[{label!r}]: at most {MAX_DESCRIPTION} characters")
        if line:
            out[label] = line
    return out


class ProjectCreate(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    name: Text = Field(min_length=1, max_length=200)
    # before ``labels``, whose check needs it; the lower bounds are ``_check_count``'s
    multi_label: bool = False
    labels: list[Text] = Field(
        max_length=MAX_LABELS,
        json_schema_extra={"minItems": 1},
        description="Required, but for translation_review and sentence_selection, which have "
        "defaults (ok, mistranslation, ...; include, exclude).",
    )
    task: Task = Field(default="classification", description=TASK_HELP)
    fields: list[Text] = Field(default_factory=list, max_length=MAX_FIELDS, description=FIELDS_HELP)
    primary_field: Text = Field(
        default="", max_length=40, description="The field shown first (default: the task's)."
    )
    layout: Layout | None = Field(default=None, description="How the fields are shown.")
    strategy: str = _option("strategy")
    batch_size: int = _option("batch_size")
    diversity: bool = _option("diversity")
    epsilon: float = _option("epsilon")
    committee_size: int = _option("committee_size")
    features: Features = _option("features")
    warm_up: float = _option("warm_up")
    diversity_method: DiversityMethod = _option("diversity_method")
    overlap: int = _option("overlap")
    min_agreement: float = _option("min_agreement")
    audit_share: float = _option("audit_share")
    recheck_share: float = _option("recheck_share")
    oracle_vote: bool = _option("oracle_vote")
    suggest_preselect: bool = _option("suggest_preselect")
    oracle_examples: int = _option("oracle_examples")
    machine_labels: bool = _option("machine_labels")
    machine_threshold: float = _option("machine_threshold")
    machine_target: float = _option("machine_target")
    machine_train: bool = _option("machine_train")
    guidelines: Text = Field(default="", max_length=MAX_GUIDELINES, description=GUIDELINES_HELP)
    label_descriptions: dict[Text, Text] = Field(
        default_factory=dict, description=DESCRIPTIONS_HELP
    )

    @model_validator(mode="before")
    @classmethod
    def _default_labels(cls, data: Any) -> Any:
        """A task with default labels may leave them out."""
        if isinstance(data, dict) and "labels" not in data and data.get("task") in DEFAULT_LABELS:
            return {**data, "labels": list(DEFAULT_LABELS[data["task"]])}
        return data

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return clean_name(value, "name")

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: list[str], info: ValidationInfo) -> list[str]:
        labels = [label.strip() for label in value]
        if any(not label or len(label) > 200 for label in labels):
            raise ValueError("labels must be non-blank strings of at most 200 characters")
        labels = [clean_label(label) for label in labels]
        _check_distinct(labels)
        _check_count(labels, multi_label=info.data.get("multi_label") is True)
        return labels

    @field_validator("strategy")
    @classmethod
    def _strategy(cls, value: str) -> str:
        return check_strategy(value)

    @model_validator(mode="after")
    def _descriptions(self) -> ProjectCreate:
        self.label_descriptions = check_descriptions(self.label_descriptions, self.labels)
        self.shape()  # refuses a bad shape here, as a 422
        return self

    def shape(self) -> Shape:
        """The project's task shape, with the task's defaults for what was left out."""
        return Shape(
            task=self.task,
            fields=list(self.fields),
            primary_field=self.primary_field,
            layout=self.layout,
        )


class ProjectUpdate(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    name: Text | None = Field(default=None, min_length=1, max_length=200)
    strategy: str | None = None
    batch_size: int | None = _change("batch_size")
    diversity: bool | None = None
    epsilon: float | None = _change("epsilon")
    committee_size: int | None = _change("committee_size")
    features: Features | None = _change("features")
    warm_up: float | None = _change("warm_up")
    diversity_method: DiversityMethod | None = _change("diversity_method")
    overlap: int | None = _change("overlap")
    min_agreement: float | None = _change("min_agreement")
    audit_share: float | None = _change("audit_share")
    recheck_share: float | None = _change("recheck_share")
    oracle_vote: bool | None = None
    suggest_preselect: bool | None = None
    oracle_examples: int | None = _change("oracle_examples")
    machine_labels: bool | None = None
    machine_threshold: float | None = _change("machine_threshold")
    machine_target: float | None = _change("machine_target")
    machine_train: bool | None = None
    guidelines: Text | None = Field(default=None, max_length=MAX_GUIDELINES)
    label_descriptions: dict[Text, Text] | None = Field(
        default=None, description="Replaces every description (labels left out have none)."
    )
    task: Task | None = Field(default=None, description="Only while the project has no items.")
    fields: list[Text] | None = Field(
        default=None, max_length=MAX_FIELDS, description="Only while the project has no items."
    )
    primary_field: Text | None = Field(
        default=None, max_length=40, description="Only while the project has no items."
    )
    layout: Layout | None = None

    def shape_changes(self) -> dict[str, Any]:
        """The shape settings this update sets."""
        names = ("task", "fields", "primary_field", "layout")
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return None if value is None else clean_name(value, "name")

    @field_validator("strategy")
    @classmethod
    def _strategy(cls, value: str | None) -> str | None:
        return None if value is None else check_strategy(value)


class ProjectOut(BaseModel):
    id: int
    name: str
    labels: list[str]
    multi_label: bool
    strategy: str
    batch_size: int
    diversity: bool
    epsilon: float
    committee_size: int
    features: Features
    warm_up: float
    diversity_method: DiversityMethod
    overlap: int
    min_agreement: float
    audit_share: float
    recheck_share: float
    oracle_vote: bool
    suggest_preselect: bool
    oracle_examples: int
    machine_labels: bool
    machine_threshold: float
    machine_target: float
    machine_train: bool
    guidelines: str
    label_descriptions: dict[str, str]
    task: Task
    fields: list[str] = Field(description="The named text fields of an item, in order.")
    primary_field: str
    layout: Layout
    created_at: datetime
    n_items: int
    n_labeled: int
    n_unlabeled: int
    model_version: int | None


RoleName = Literal["annotator", "reviewer", "manager"]  # app.models.ProjectRole's values


class MemberIn(BaseModel):
    """A user to add, by ``user_id`` or by ``user`` (name), and their role in the project."""

    model_config = ConfigDict(strict=True, extra="forbid")

    user_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    user: Text | None = Field(default=None, min_length=1, max_length=100)
    role: RoleName = "annotator"

    @model_validator(mode="after")
    def _one_user(self) -> MemberIn:
        if (self.user_id is None) == (self.user is None):
            raise ValueError("name the user by exactly one of user_id and user")
        return self


class MemberPatch(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    role: RoleName


class MemberOut(BaseModel):
    user_id: int
    user: str
    role: RoleName
    created_at: datetime
