"""Features of items with several text fields, and of sentences inside their documents.

Per-field blocks (one row per item, unit rows, all from ONE featuriser) are combined into one
matrix: side by side, plus for each pair (the first field with every other) the element-wise
product and absolute difference, which is what makes a relation between two fields ("is this
the translation of that?") learnable by a linear model: the product's sum is the fields' cosine.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from app.learning.estimators import Matrix, is_sparse

# The product block sums to the cosine of two unit rows but each entry is ~1/d (TF-IDF rows of
# two texts share few n-grams): scaled up so a linear model with the label model's penalty
# (C = 10) can weigh it. Of 4, 8, 16, 32, 64 and 128, 32 is the best for MiniLM and near the
# best for TF-IDF on the banking77 pairs of tests/learning/test_fields.py (bench/README.md,
# "Pairs").
PRODUCT_SCALE = 32.0
# Columns `sentence_context` adds: cosine to the document, relative position, is-first,
# is-last, 1 / (1 + position).
CONTEXT_COLUMNS = 5
# The context block's weight against the unit sentence vector before rows are normalised again
# (of 0.5, 1, 2 and 4 the best on the news sentence-selection bench: bench/README.md).
CONTEXT_WEIGHT = 1.0


def combine_fields(blocks: Sequence[Matrix], *, pairs: bool = True) -> Matrix:
    """One feature matrix from per-field blocks.

    The fields' blocks must come from one shared featuriser (the same embedding model, or one
    TF-IDF vocabulary fitted on every field's texts): with a vocabulary per field, column j of
    two fields means different n-grams and their product or difference means nothing.

    Args:
        blocks: f >= 1 matrices of shape (n, d), dense or all sparse, unit rows (zero rows
            allowed for empty fields).
        pairs: add, for the first field and each other field j, the product (scaled by
            PRODUCT_SCALE) and the absolute difference of their rows.

    Returns:
        (n, f * d + 2 * (f - 1) * d if pairs else f * d) float32 matrix, unit L2 rows; CSR if
        the blocks are sparse, else a dense array.
    """
    if not blocks:
        raise ValueError("combine_fields needs at least one field")
    shapes = {np.shape(b) for b in blocks}
    if len(shapes) != 1:
        raise ValueError(f"field blocks must share one shape (n, d), got {sorted(shapes)}")
    sparse = [is_sparse(b) for b in blocks]
    if any(sparse) and not all(sparse):
        raise ValueError("field blocks must be all sparse or all dense")
    parts = list(blocks)
    if pairs:
        first = blocks[0]
        for other in blocks[1:]:
            parts += [_product(first, other), _abs_difference(first, other)]
    if all(sparse):
        stacked = sp.hstack(parts, format="csr", dtype=np.float32)
        out: Matrix = normalize(stacked, norm="l2", copy=False)
        return out
    dense = np.hstack([np.asarray(p, dtype=np.float32) for p in parts])
    return _normalise_rows(dense)


def _product(a: Matrix, b: Matrix) -> Matrix:
    if is_sparse(a):
        return sp.csr_matrix(a.multiply(b)) * PRODUCT_SCALE
    return np.asarray(a) * np.asarray(b) * PRODUCT_SCALE


def _abs_difference(a: Matrix, b: Matrix) -> Matrix:
    if is_sparse(a):
        return abs(sp.csr_matrix(a) - sp.csr_matrix(b))
    return np.abs(np.asarray(a) - np.asarray(b))


def _normalise_rows(X: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return (X / np.maximum(norms, 1e-12)).astype(np.float32)


def document_vectors(vectors: Matrix, documents: np.ndarray) -> tuple[np.ndarray, Matrix]:
    """Each document's vector: the L2-normalised mean of its sentences' vectors.

    No document is featurised whole (a long one would be truncated by the encoder or dominate
    the TF-IDF vocabulary); its sentences' vectors are already there.

    Args:
        vectors: (n, d) sentence vectors, dense or sparse.
        documents: (n,) document key of each sentence (any integers).

    Returns:
        ((m,) sorted distinct document keys, (m, d) unit rows in that order; sparse in, CSR out).
    """
    keys, inverse = np.unique(np.asarray(documents), return_inverse=True)
    n = inverse.size
    membership = sp.csr_matrix(
        (np.ones(n, dtype=np.float32), (inverse, np.arange(n))), shape=(keys.size, n)
    )
    summed = membership @ vectors
    if is_sparse(summed):
        found: Matrix = normalize(sp.csr_matrix(summed, dtype=np.float32), norm="l2")
        return keys, found
    return keys, _normalise_rows(np.asarray(summed))


def sentence_context(
    vectors: Matrix, documents: np.ndarray, positions: np.ndarray, n_sentences: np.ndarray
) -> np.ndarray:
    """Where each sentence sits in its document, as five numbers in [0, 1].

    Args:
        vectors: (n, d) unit sentence vectors, dense or sparse; every sentence of a document
            should be among them (its document vector is their mean).
        documents: (n,) document key of each sentence.
        positions: (n,) 0-based position of each sentence in its document.
        n_sentences: (n,) number of sentences of each sentence's document.

    Returns:
        float32 (n, CONTEXT_COLUMNS): cosine to the document vector (clipped at 0), relative
        position (0 first, 1 last), is-first, is-last, 1 / (1 + position).
    """
    positions = np.asarray(positions, dtype=np.float64)
    counts = np.maximum(np.asarray(n_sentences, dtype=np.float64), 1.0)
    keys, doc_vectors = document_vectors(vectors, documents)
    row_doc = np.searchsorted(keys, np.asarray(documents))
    mine = doc_vectors[row_doc]
    if is_sparse(vectors):
        cosine = np.asarray(sp.csr_matrix(vectors).multiply(mine).sum(axis=1)).ravel()
    else:
        cosine = np.einsum("ij,ij->i", np.asarray(vectors), np.asarray(mine))
    relative = np.where(counts > 1, positions / np.maximum(counts - 1, 1.0), 0.0)
    context = np.column_stack(
        [
            np.clip(cosine, 0.0, 1.0),
            np.clip(relative, 0.0, 1.0),
            positions == 0,
            positions >= counts - 1,
            1.0 / (1.0 + positions),
        ]
    )
    return context.astype(np.float32)


def sentence_features(
    vectors: Matrix, documents: np.ndarray, positions: np.ndarray, n_sentences: np.ndarray
) -> Matrix:
    """Sentence vectors with their context (`sentence_context`) beside them.

    The context block is weighted by CONTEXT_WEIGHT and the joint rows are L2-normalised, as
    every feature row the label model sees (so k-means and cosine distances stay comparable).

    Args:
        vectors: (n, d) unit sentence vectors, dense or sparse.
        documents, positions, n_sentences: (n,) each, as `sentence_context`.

    Returns:
        (n, d + CONTEXT_COLUMNS) float32 unit rows; CSR if ``vectors`` is sparse.
    """
    context = sentence_context(vectors, documents, positions, n_sentences) * CONTEXT_WEIGHT
    if is_sparse(vectors):
        stacked = sp.hstack([vectors, sp.csr_matrix(context)], format="csr", dtype=np.float32)
        out: Matrix = normalize(stacked, norm="l2", copy=False)
        return out
    return _normalise_rows(np.hstack([np.asarray(vectors, dtype=np.float32), context]))
