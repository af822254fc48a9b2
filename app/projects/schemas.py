"""Project request and response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.fields import Text
from app.learning.ranking import DEFAULT_RECIPE
from app.learning.strategies import strategy_names
from app.text import clean_label, clean_name, label_key

MAX_LABELS = 1000
# Kept in Project.settings.
OPTIONS = ("diversity", "epsilon", "committee_size", "features", "warm_up")
# What a project stored without an option means (projects older than the option).
OPTION_DEFAULTS = {
    "diversity": False,
    "epsilon": 0.0,
    "committee_size": 5,
    "features": "tfidf",
    "warm_up": 0.0,
}
Features = Literal["tfidf", "minilm", "both"]
FEATURES_HELP = (
    "Item features: TF-IDF words and characters, MiniLM sentence embeddings (computed once "
    "per item by the worker), or both side by side."
)
WARM_UP_HELP = (
    "Labels per class of warm-up: until the project has this many labels per class, each batch "
    "is the most typical item of the least-labelled k-means clusters of the pool (TypiClust), "
    "then the strategy ranks. 0 turns it off; the random strategy never warms up."
)
MAX_WARM_UP = 100.0


def _check_strategy(value: str) -> str:
    if value not in strategy_names():
        raise ValueError(f"unknown strategy {value!r}; use one of: {', '.join(strategy_names())}")
    return value


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


class ProjectCreate(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    name: Text = Field(min_length=1, max_length=200)
    labels: list[Text] = Field(min_length=1, max_length=MAX_LABELS)
    multi_label: bool = False
    strategy: str = DEFAULT_RECIPE.strategy
    batch_size: int = Field(default=20, ge=1, le=10_000)
    diversity: bool = Field(
        default=DEFAULT_RECIPE.diversity_batch > 0,
        description="Diversify each batch: the best item of each of `batch_size` k-means "
        "clusters of the top 10 x batch_size.",
    )
    epsilon: float = Field(default=0.0, ge=0.0, le=0.5, description="Random share of a batch.")
    committee_size: int = Field(default=5, ge=2, le=20, description="For qbc_* strategies.")
    features: Features = Field(default=DEFAULT_RECIPE.features, description=FEATURES_HELP)
    warm_up: float = Field(
        default=DEFAULT_RECIPE.warm_up, ge=0.0, le=MAX_WARM_UP, description=WARM_UP_HELP
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return clean_name(value, "name")

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: list[str]) -> list[str]:
        labels = [label.strip() for label in value]
        if any(not label or len(label) > 200 for label in labels):
            raise ValueError("labels must be non-blank strings of at most 200 characters")
        labels = [clean_label(label) for label in labels]
        _check_distinct(labels)
        return labels

    @field_validator("strategy")
    @classmethod
    def _strategy(cls, value: str) -> str:
        return _check_strategy(value)


class ProjectUpdate(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    strategy: str | None = None
    batch_size: int | None = Field(default=None, ge=1, le=10_000)
    diversity: bool | None = None
    epsilon: float | None = Field(default=None, ge=0.0, le=0.5)
    committee_size: int | None = Field(default=None, ge=2, le=20)
    features: Features | None = Field(default=None, description=FEATURES_HELP)
    warm_up: float | None = Field(default=None, ge=0.0, le=MAX_WARM_UP, description=WARM_UP_HELP)

    @field_validator("strategy")
    @classmethod
    def _strategy(cls, value: str | None) -> str | None:
        return None if value is None else _check_strategy(value)


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
    created_at: datetime
    n_items: int
    n_labeled: int
    n_unlabeled: int
    model_version: int | None
