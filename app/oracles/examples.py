"""A few human-labelled examples per item for an oracle's prompt: its nearest neighbours.

Neighbours by the project's own features: MiniLM sentence embeddings (read from the project's
embedding cache, computed for the few items missing there) when the project uses them, else
TF-IDF fitted on the candidates and the items at hand. Cosine similarity, most similar first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from app.oracles.prompt import Example
from app.training.embeddingstore import EmbeddingStore


@dataclass(frozen=True, slots=True)
class Labelled:
    item_id: int
    text: str
    labels: tuple[str, ...]


def nearest(
    queries: Sequence[tuple[int, str]],
    candidates: Sequence[Labelled],
    k: int,
    *,
    embeddings_dir: Path | None = None,
) -> list[list[Example]]:
    """For each ``(item_id, text)`` of ``queries``, its ``k`` most similar candidates."""
    if k <= 0 or not candidates or not queries:
        return [[] for _ in queries]
    if embeddings_dir is not None:
        q, c = _embedded(queries, candidates, embeddings_dir)
    else:
        q, c = _tfidf(queries, candidates)
    product = q @ c.T
    similarity = product.toarray() if sp.issparse(product) else np.asarray(product)
    top = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
    return [[Example(candidates[j].text, candidates[j].labels) for j in row] for row in top]


def _tfidf(
    queries: Sequence[tuple[int, str]], candidates: Sequence[Labelled]
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    vectorizer = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=1)
    matrix = vectorizer.fit_transform([c.text for c in candidates] + [t for _, t in queries])
    n = len(candidates)
    return matrix[n:], matrix[:n]


def _embedded(
    queries: Sequence[tuple[int, str]], candidates: Sequence[Labelled], directory: Path
) -> tuple[np.ndarray, np.ndarray]:
    texts = {c.item_id: c.text for c in candidates} | dict(queries)
    ids = np.unique(np.fromiter(texts, dtype=np.int64))
    vectors, _ = EmbeddingStore(directory).load(ids, lambda wanted: [texts[int(i)] for i in wanted])
    rows = {int(i): r for r, i in enumerate(ids)}
    q = normalize(vectors[[rows[i] for i, _ in queries]])
    c = normalize(vectors[[rows[x.item_id] for x in candidates]])
    return q, c
