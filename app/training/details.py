"""What a model version records about itself (`ModelVersion.details`, a JSON dict), typed.

Versions stored before a key existed read as its default: TF-IDF features, no warm-up, no kappa.
"""

from __future__ import annotations

from typing import NamedTuple

from pydantic import BaseModel, ConfigDict

from app.learning.options import Features
from app.models import ModelVersion


class ModelDetails(BaseModel):
    """The features a version was fitted on, its stop-set file and kappa, and its ranking's kind."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    features: Features = "tfidf"  # versions older than the option used TF-IDF
    embedder: str | None = None  # the encoder's cache key, for MiniLM or static features
    encoder_path: str | None = None  # static features: the encoder's folder (model2vec format)
    featurizer_path: str | None = None  # the fitted TF-IDF featuriser's file
    featurizer_sha256: str | None = None
    run_id: int | None = None
    stop_path: str | None = None  # the stop-set predictions (app.learning.stopping)
    kappa: float | None = None  # against the previous model's stop-set predictions
    warm_up: bool = False  # the ranking leads with a warm-up batch of typical items
    cold_start: bool = False  # a ranking published before any model (version <= 0)
    # The items' shape (``app.training.shapes``), set only for shapes other than one text.
    task: str = "classification"
    fields: list[str] = []
    primary_field: str = "text"

    @classmethod
    def of(cls, version: ModelVersion) -> ModelDetails:
        return cls.model_validate(version.details or {})

    def stored(self) -> dict[str, object]:
        """The JSON kept in `ModelVersion.details`: the keys that were set."""
        return self.model_dump(exclude_unset=True)


class PublishedModel(NamedTuple):
    """A published model's file (to warm-start the next fit) and its details."""

    path: str
    sha256: str
    details: ModelDetails

    @classmethod
    def of(cls, version: ModelVersion) -> PublishedModel:
        return cls(version.path, version.sha256, ModelDetails.of(version))
