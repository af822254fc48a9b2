"""Pool features of the task shapes beyond one text: items with several fields, and sentences.

A multi-field project's features are per field, from ONE featuriser, combined by
``app.learning.fields.combine_fields`` (side by side, and the first field's product and
difference with each other field). TF-IDF is fitted once on every field's texts: the cache of
``featurestore.load_or_build`` is reused over *field rows* (row id = item id * k + field index),
so the shared vocabulary gets the same incremental extension and refits as a plain pool.
Embeddings are cached per field (one ``EmbeddingStore`` each; the primary field's store is
the project's own, since ``Item.text`` is that field). A sentence project has the plain
features of its sentences plus their place in the document (``sentence_features``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sqlalchemy import select

from app.db import Database
from app.learning.features import pool_features
from app.learning.fields import combine_fields, sentence_features
from app.learning.options import FEATURE_KINDS
from app.models import Document, Item
from app.training import featurestore
from app.training.embeddingstore import EmbeddingStore
from app.training.taskshape import Shape

READ_CHUNK = 10_000  # ids per IN (...) list: well under SQLite's bound-parameter limit


@dataclass(frozen=True)
class Pool:
    """Where a run's pool features come from: the project's folder of caches and its items."""

    db: Database
    project_dir: Path
    kind: str  # one of FEATURE_KINDS
    pool_version: int
    item_ids: np.ndarray  # (n,) int64, ascending
    # The sentence encoder of dense kinds: MiniLM, or the static one for kind "static".
    embedder: Callable[[], featurestore.Embedder] = lambda: featurestore.MINILM


def load(
    pool: Pool, shape: Shape, plain: Callable[[], featurestore.PoolFeatures]
) -> featurestore.PoolFeatures:
    """The pool's features for a shape that is not plain (``plain()``: the one-text features).

    Returns:
        PoolFeatures whose in-memory matrix has one row per id of ``pool.item_ids``.
    """
    if pool.kind not in FEATURE_KINDS:
        raise ValueError(f"unknown feature kind {pool.kind!r}; known: {', '.join(FEATURE_KINDS)}")
    if shape.sentences:
        base = plain()
        context = _sentence_places(pool.db, base.item_ids)
        return replace(base, matrix=sentence_features(_whole(base.matrix), *context))
    tfidf = _fields_tfidf(pool, shape) if pool.kind in ("tfidf", "both") else None
    embedder = pool.embedder() if pool.kind != "tfidf" else None
    embedded, embedded_now = (
        _fields_embedded(pool, shape, embedder) if embedder is not None else (None, 0)
    )
    matrix = pool_features(pool.kind, tfidf=tfidf[1] if tfidf else None, embeddings=embedded)
    return featurestore.PoolFeatures(
        pool.item_ids,
        matrix,
        tfidf[0].featurizer_path if tfidf else None,
        tfidf[0].featurizer_sha256 if tfidf else None,
        kind=pool.kind,
        embedder=embedder.key if embedder is not None else None,
        embedded_now=embedded_now,
        encoder_path=embedder.path if embedder is not None else None,
    )


def _fields_tfidf(pool: Pool, shape: Shape) -> tuple[featurestore.PoolFeatures, Any]:
    """(the cache of field rows, their combined (n, 4d)-wide CSR for a pair) from ONE
    featuriser fitted on every field's texts."""
    k = len(shape.fields)
    row_ids = (pool.item_ids[:, None] * k + np.arange(k)).ravel()
    cache = featurestore.load_or_build(
        pool.project_dir / f"features-fields-{_digest('|'.join(shape.fields))}",
        pool.pool_version,
        row_ids,
        lambda: _row_texts(pool.db, shape, row_ids),
        lambda rows: _row_texts(pool.db, shape, rows),
    )
    whole = _whole(cache.matrix)
    return cache, combine_fields([whole[np.arange(j, whole.shape[0], k)] for j in range(k)])


def _fields_embedded(
    pool: Pool, shape: Shape, embedder: featurestore.Embedder
) -> tuple[np.ndarray, int]:
    """(the fields' combined embeddings, items embedded now), a store per field."""
    k = len(shape.fields)
    blocks, embedded_now = [], 0
    for j, name in enumerate(shape.fields):

        def texts_of(ids: np.ndarray, j: int = j) -> list[str]:
            return _row_texts(pool.db, shape, ids * k + j)

        vectors, now = _store(pool.project_dir, shape, name, embedder).load(
            pool.item_ids, texts_of, encode_fn=embedder.encode, chunk_items=embedder.chunk_items
        )
        blocks.append(vectors)
        embedded_now += now
    return np.asarray(combine_fields(blocks)), embedded_now


def _store(
    project_dir: Path, shape: Shape, name: str, embedder: featurestore.Embedder
) -> EmbeddingStore:
    """The field's embedding cache: the project's own for the primary field (its text)."""
    if name == shape.primary:
        return embedder.store(project_dir / "embeddings")
    return embedder.store(project_dir / "field-embeddings" / _digest(name))


def _digest(text: str) -> str:
    """A short file-name-safe name for user-chosen field names."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _whole(matrix: Any) -> Any:
    """An in-memory matrix of a pool matrix (a stored one, TF-IDF or embeddings, is read whole)."""
    if isinstance(matrix, np.ndarray) or sp.issparse(matrix):
        return matrix
    return matrix[0 : matrix.shape[0]]


def _row_texts(db: Database, shape: Shape, rows: np.ndarray) -> list[str]:
    """Texts of field rows (row = item id * k + field index, k fields), in ``rows`` order."""
    k = len(shape.fields)
    found = _texts_by_item(db, shape, rows // k)
    return [found[int(row) // k][int(row) % k] for row in rows]


def _texts_by_item(db: Database, shape: Shape, ids: np.ndarray) -> dict[int, list[str]]:
    """Each of ``ids``' texts of every field (``Shape.texts_of_item``), by item id."""
    unique = np.unique(ids)
    found: dict[int, list[str]] = {}
    with db.reader() as session:
        for start in range(0, unique.size, READ_CHUNK):
            chunk = unique[start : start + READ_CHUNK].tolist()
            rows = session.execute(
                select(Item.id, Item.fields, Item.text).where(Item.id.in_(chunk))
            )
            for item_id, fields, text in rows:
                found[item_id] = shape.texts_of_item(fields, text)
    return found


def _sentence_places(
    db: Database, item_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(documents, positions, n_sentences), each (n,), of the sentence items ``item_ids``.

    An item without a document (not expected in a sentence project) is a one-sentence
    document of its own.
    """
    n = item_ids.size
    documents, positions, counts = -item_ids - 1, np.zeros(n, np.int64), np.ones(n, np.int64)
    if n == 0:
        return documents, positions, counts
    project_id = select(Item.project_id).where(Item.id == int(item_ids[0])).scalar_subquery()
    query = (
        select(Item.id, Item.document_id, Item.position, Document.n_sentences)
        .join(Document, Document.id == Item.document_id)
        .where(Item.project_id == project_id)
    )
    with db.reader() as session:
        rows = np.array(session.execute(query).all(), dtype=np.int64).reshape(-1, 4)
    rows = rows[np.isin(rows[:, 0], item_ids)]
    at = np.searchsorted(item_ids, rows[:, 0])
    documents[at], positions[at], counts[at] = rows[:, 1], rows[:, 2], rows[:, 3]
    return documents, positions, counts
