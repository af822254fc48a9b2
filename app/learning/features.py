"""Text featurisation: word (1-2 gram) and char_wb (2-5 gram) TF-IDF, hstacked, rows L2-normalised.

Pure scikit-learn transformer; texts in, float32 CSR matrix out. `pool_features` picks or joins
TF-IDF and sentence embeddings (`app.learning.embeddings`) by a project's feature kind.
"""

from collections.abc import Sequence
from typing import Self, TypeVar

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize
from sklearn.utils import Tags
from sklearn.utils.validation import check_is_fitted

from app.learning.options import FEATURE_KINDS

_EMPTY_VOCABULARY = "empty vocabulary"
_Block = TypeVar("_Block")
DENSE_KINDS = ("minilm", "static")  # sentence vectors alone: MiniLM or distilled from it


def _word_vectorizer(max_features: int | None) -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer="word",
        ngram_range=(1, 2),
        sublinear_tf=True,
        lowercase=True,
        min_df=1,
        max_features=max_features,
        dtype=np.float32,
    )


def _char_vectorizer(max_features: int | None) -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(2, 5),
        sublinear_tf=True,
        lowercase=True,
        min_df=1,
        max_features=max_features,
        dtype=np.float32,
    )


def _fit_transform_or_none(
    vectorizer: TfidfVectorizer, texts: Sequence[str]
) -> tuple[TfidfVectorizer | None, sp.csr_matrix | None]:
    """Fit one vectorizer; a corpus that yields no n-gram of its kind gives (None, None)."""
    try:
        return vectorizer, vectorizer.fit_transform(texts)
    except ValueError as exc:
        if _EMPTY_VOCABULARY in str(exc):
            return None, None
        raise


class TfidfFeaturizer(TransformerMixin, BaseEstimator):
    """Union of a word 1-2 gram and a char_wb 2-5 gram TF-IDF, hstacked and L2-normalised per row.

    Each block is L2-normalised by its own vectorizer before stacking, so word and character
    evidence weigh equally. A corpus without any word token (e.g. only "!!!") keeps just the
    character block. `max_features` caps the total width: half for words, half for characters.
    """

    def __init__(self, *, max_features: int | None = 200_000) -> None:
        self.max_features = max_features

    def fit(self, texts: Sequence[str], y: object = None) -> Self:
        """Learn both vocabularies and IDF weights.

        Args:
            texts: the corpus, n raw strings.
            y: ignored (scikit-learn API).

        Returns:
            self, fitted.
        """
        self.fit_transform(texts)
        return self

    def fit_transform(self, texts: Sequence[str], y: object = None) -> sp.csr_matrix:
        """Fit on `texts` and return their features in one pass.

        Args:
            texts: the corpus, n raw strings.
            y: ignored (scikit-learn API).

        Returns:
            float32 CSR matrix of shape (n, n_features_), rows L2-normalised.

        Raises:
            ValueError: if no text contains even one character n-gram (e.g. all are blank).
        """
        word_cap, char_cap = self._split_max_features()
        word_vectorizer, word = _fit_transform_or_none(_word_vectorizer(word_cap), texts)
        char_vectorizer, char = _fit_transform_or_none(_char_vectorizer(char_cap), texts)
        if char is None:
            raise ValueError("cannot build text features: every text is empty or whitespace")
        self.word_vectorizer_, self.char_vectorizer_ = word_vectorizer, char_vectorizer
        return _stack_and_normalize([block for block in (word, char) if block is not None])

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Featurise texts with the fitted vocabularies (unknown n-grams are ignored).

        Args:
            texts: n raw strings.

        Returns:
            float32 CSR matrix of shape (n, n_features_), rows L2-normalised (all-zero rows for
            texts sharing no n-gram with the training corpus).
        """
        check_is_fitted(self, "char_vectorizer_")
        return _stack_and_normalize([vec.transform(texts) for vec in self._vectorizers()])

    @property
    def n_features_(self) -> int:
        """Number of output columns d (word vocabulary + character vocabulary)."""
        check_is_fitted(self, "char_vectorizer_")
        return sum(len(vec.vocabulary_) for vec in self._vectorizers())

    def _vectorizers(self) -> list[TfidfVectorizer]:
        return [vec for vec in (self.word_vectorizer_, self.char_vectorizer_) if vec is not None]

    def _split_max_features(self) -> tuple[int | None, int | None]:
        if self.max_features is None:
            return None, None
        if self.max_features < 2:
            raise ValueError(f"max_features must be >= 2 or None, got {self.max_features}")
        word_cap = self.max_features // 2
        return word_cap, self.max_features - word_cap

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        return tags


def _stack_and_normalize(blocks: list[sp.csr_matrix]) -> sp.csr_matrix:
    """hstack (n, d_i) blocks into a float32 (n, sum d_i) CSR matrix with unit-L2 rows."""
    stacked = sp.hstack(blocks, format="csr", dtype=np.float32)
    return normalize(stacked, norm="l2", copy=False)


def pool_features(
    kind: str,
    *,
    tfidf: sp.csr_matrix | None = None,
    embeddings: np.ndarray | None = None,
    embedding_weight: float = 1.0,
) -> sp.csr_matrix | np.ndarray:
    """The feature matrix of a feature kind.

    Args:
        kind: "tfidf", "minilm" or "static" (the embeddings alone), or "both" (TF-IDF and
            embeddings side by side).
        tfidf: (n, d) unit-row CSR from `TfidfFeaturizer`, needed for "tfidf" and "both".
        embeddings: (n, e) unit-row float32 (e.g. MiniLM, e = 384), for "minilm" and "both".
        embedding_weight: "both": weight of the embedding block against the TF-IDF block
            before the joint rows are L2-normalised again (1.0 = equal weight).

    Returns:
        "tfidf": the CSR matrix; "minilm", "static": the dense array; "both": float32 CSR (n, d + e)
        with unit rows.
    """
    if kind not in FEATURE_KINDS:
        raise ValueError(f"unknown feature kind {kind!r}; known: {', '.join(FEATURE_KINDS)}")
    if kind in DENSE_KINDS:
        return _needed(embeddings, kind, "the embeddings")
    sparse = _needed(tfidf, kind, "the TF-IDF matrix")
    if kind == "tfidf":
        return sparse
    dense = _needed(embeddings, kind, "the embeddings")
    if sparse.shape[0] != dense.shape[0]:
        raise ValueError("TF-IDF and embeddings must have the same rows")
    block = sp.csr_matrix(np.asarray(dense, dtype=np.float32) * embedding_weight)
    return _stack_and_normalize([sparse, block])


def _needed(block: _Block | None, kind: str, name: str) -> _Block:
    """The block a feature kind needs; ValueError naming it if it is missing."""
    if block is None:
        raise ValueError(f"feature kind {kind!r} needs {name}")
    return block
