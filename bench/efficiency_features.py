"""The pool and test features of a benchmark dataset: TF-IDF, MiniLM (cached on disk), static."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.datasets import Dataset, log


def text_hash(texts: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for text in texts:
        digest.update(hashlib.sha256(text.encode("utf-8")).digest())
    return digest.hexdigest()[:32]


class EmbeddingCache:
    """MiniLM vectors on disk, one .npy per (model, truncation, hash of the texts)."""

    def __init__(self, cache_dir: Path, threads: int, dtype: str = "float32") -> None:
        self.dir = cache_dir / "embeddings"
        self.threads = threads
        self.dtype = dtype  # the precision the service stores them in (a round trip)
        self._encoder = None

    def encoder(self):  # noqa: ANN201 - built lazily: loading onnxruntime takes a moment
        if self._encoder is None:
            from app.learning.embeddings import MiniLMEncoder

            self._encoder = MiniLMEncoder(threads=self.threads)
        return self._encoder

    def get(self, texts: Sequence[str], label: str) -> np.ndarray:
        from app.learning.embeddings import MINILM_MODEL_ID

        key = f"{MINILM_MODEL_ID}-len128"
        path = self.dir / key / f"{text_hash(texts)}.npy"
        if path.is_file():
            return np.load(path).astype(self.dtype).astype(np.float32)
        encoder = self.encoder()
        assert encoder.cache_key == key
        log(f"embedding {len(texts)} texts of {label} with {key} (cached in {path.parent})")
        start = time.perf_counter()
        vectors = encoder.encode(list(texts))
        log(f"  {len(texts) / (time.perf_counter() - start):.0f} texts/s")
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, vectors)
        return vectors.astype(self.dtype).astype(np.float32)


def static_vectors(texts: Sequence[str], cache_dir: Path, label: str) -> np.ndarray:
    """The product's static vectors (distilled from MiniLM once into ``cache_dir``)."""
    from app.training.encoders import static_encoder

    encoder = static_encoder(cache_dir)
    start = time.perf_counter()
    vectors = encoder.encode(list(texts))
    log(f"static vectors of {label}: {len(texts) / (time.perf_counter() - start):.0f} texts/s")
    return vectors


@dataclass
class Features:
    train: object  # (n_train, d) sparse or dense
    test: object  # (n_test, d)


def build_features(
    data: Dataset, kinds: set[str], cache: EmbeddingCache, embedding_weight: float = 1.0
) -> dict[str, Features]:
    from app.learning.features import TfidfFeaturizer, pool_features

    out: dict[str, Features] = {}
    tfidf = embeddings = None
    if kinds & {"tfidf", "both"}:
        featurizer = TfidfFeaturizer()
        tfidf = Features(featurizer.fit_transform(data.train_texts), None)
        tfidf.test = featurizer.transform(data.test_texts)
    if kinds & {"minilm", "both"}:
        embeddings = Features(
            cache.get(data.train_texts, f"{data.name} train"),
            cache.get(data.test_texts, f"{data.name} test"),
        )
    if "static" in kinds:
        out["static"] = Features(
            static_vectors(data.train_texts, cache.dir.parent, f"{data.name} train"),
            static_vectors(data.test_texts, cache.dir.parent, f"{data.name} test"),
        )
    for kind in kinds - {"static"}:
        out[kind] = Features(
            *(
                pool_features(
                    kind,
                    tfidf=None if tfidf is None else getattr(tfidf, part),
                    embeddings=None if embeddings is None else getattr(embeddings, part),
                    embedding_weight=embedding_weight,
                )
                for part in ("train", "test")
            )
        )
    return out
