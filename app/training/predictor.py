"""Predictions with a published model: the model and its featuriser, loaded once per version."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from app import heap
from app.errors import Conflict
from app.learning.embeddings import encode
from app.learning.features import pool_features
from app.learning.fields import combine_fields, sentence_features
from app.models import ModelVersion
from app.training import artifacts, encoders
from app.training.details import ModelDetails
from app.training.inputs import Inputs
from app.training.predictions import to_predictions
from app.training.taskshape import Shape


class Predictor:
    """A small per-process LRU of loaded model versions (keyed by model version id)."""

    def __init__(self, capacity: int = 4) -> None:
        self._cache: OrderedDict[int, tuple[Any, Any, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()
        self._capacity = capacity

    def _load(self, version: ModelVersion) -> tuple[Any, Any, dict[str, Any]]:
        with self._lock:
            if version.id in self._cache:
                self._cache.move_to_end(version.id)
                return self._cache[version.id]
        bundle = artifacts.load(Path(version.path), version.sha256)
        details = ModelDetails.of(version)
        featurizer = None
        if details.featurizer_path:
            featurizer = artifacts.load(
                Path(details.featurizer_path), details.featurizer_sha256 or ""
            )
        entry = (featurizer, bundle["model"], bundle)
        with self._lock:
            self._cache[version.id] = entry
            while len(self._cache) > self._capacity:
                self._cache.popitem(last=False)
        return entry

    def predict(
        self, version: ModelVersion, given: Inputs | list[str], shape: Shape | None = None
    ) -> list[dict[str, Any]]:
        """Predictions for texts (or the fields or sentences of ``Inputs``, checked against
        the project's ``shape``); MiniLM features embed the texts here, in the caller's thread.

        The memory a large call takes is handed back to the system afterwards (``heap``).

        Raises:
            Conflict: the published model was trained on items of another shape.
        """
        given = given if isinstance(given, Inputs) else Inputs([list(given)])
        details = ModelDetails.of(version)
        trained = Shape(details.task, tuple(details.fields), details.primary_field)
        if shape is not None and shape.key != trained.key:
            raise Conflict("the published model was trained on items of another shape: retrain")
        with heap.returned_after():
            return self._predict(version, given, trained)

    def _predict(self, version: ModelVersion, given: Inputs, shape: Shape) -> list[dict[str, Any]]:
        featurizer, model, bundle = self._load(version)
        details = ModelDetails.of(version)
        kind = details.features
        tfidf = [featurizer.transform(c) for c in given.columns] if featurizer else None
        embed = encode
        if kind == "static" and details.encoder_path:
            embed = encoders.loaded(Path(details.encoder_path)).encode
        vectors = [embed(c) for c in given.columns] if kind != "tfidf" else None
        if shape.multi_field:
            features = pool_features(
                kind,
                tfidf=combine_fields(tfidf) if tfidf else None,
                embeddings=combine_fields(vectors) if vectors else None,
            )
        else:
            features = pool_features(
                kind, tfidf=tfidf[0] if tfidf else None, embeddings=vectors[0] if vectors else None
            )
        if shape.sentences and given.places is not None:
            features = sentence_features(features, *given.places)
        proba = model.predict_proba(features)
        return to_predictions(proba, bundle["labels"], multi_label=bundle["multi_label"])
