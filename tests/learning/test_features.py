"""TfidfFeaturizer: shape, dtype, normalisation and degenerate corpora."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from app.learning.features import TfidfFeaturizer, pool_features


def _row_norms(X: sp.csr_matrix) -> np.ndarray:
    return np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())


def test_transform_gives_float32_csr_with_unit_rows(
    featurizer: TfidfFeaturizer, features: sp.csr_matrix, texts: list[str]
) -> None:
    assert sp.issparse(features) and features.format == "csr"
    assert features.dtype == np.float32
    assert features.shape == (len(texts), featurizer.n_features_)
    assert_allclose(_row_norms(features), 1.0, rtol=1e-5)


def test_width_is_word_plus_char_vocabulary(featurizer: TfidfFeaturizer) -> None:
    word = len(featurizer.word_vectorizer_.vocabulary_)
    char = len(featurizer.char_vectorizer_.vocabulary_)
    assert word > 0 and char > 0
    assert featurizer.n_features_ == word + char
    assert "football match" in featurizer.word_vectorizer_.vocabulary_


def test_fit_transform_matches_fit_then_transform(texts: list[str]) -> None:
    once = TfidfFeaturizer().fit_transform(texts)
    twice = TfidfFeaturizer().fit(texts).transform(texts)
    assert_allclose(once.toarray(), twice.toarray(), rtol=1e-6)


def test_is_case_insensitive(featurizer: TfidfFeaturizer) -> None:
    upper = featurizer.transform(["THE FOOTBALL MATCH"]).toarray()
    lower = featurizer.transform(["the football match"]).toarray()
    assert_allclose(upper, lower)


def test_tiny_corpus_of_three_texts() -> None:
    X = TfidfFeaturizer().fit_transform(["a cat", "a dog", "hello"])
    assert X.shape[0] == 3 and X.shape[1] > 0
    assert_allclose(_row_norms(X), 1.0, rtol=1e-5)


def test_texts_without_word_tokens_use_character_features() -> None:
    featurizer = TfidfFeaturizer().fit(["!!!", "???"])
    X = featurizer.transform(["!!!", "???", "!?"])
    assert featurizer.word_vectorizer_ is None
    assert X.shape == (3, featurizer.n_features_)
    assert_allclose(_row_norms(X[:2]), 1.0, rtol=1e-5)


def test_punctuation_only_text_in_a_normal_corpus_gets_a_unit_row() -> None:
    X = TfidfFeaturizer().fit_transform(["!!!", "good morning", "see you"])
    assert_allclose(_row_norms(X), 1.0, rtol=1e-5)


def test_text_sharing_no_ngram_with_the_corpus_gives_a_zero_row(
    featurizer: TfidfFeaturizer,
) -> None:
    X = featurizer.transform(["ЖЖЖ ЖЖЖ"])
    assert X.nnz == 0
    assert np.all(np.isfinite(X.toarray()))


def test_blank_corpus_raises_a_clear_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        TfidfFeaturizer().fit(["", "   "])


def test_max_features_caps_the_total_width(texts: list[str]) -> None:
    featurizer = TfidfFeaturizer(max_features=10).fit(texts)
    assert featurizer.n_features_ == 10
    assert featurizer.transform(texts).shape == (len(texts), 10)


def test_unfitted_featurizer_refuses_to_transform() -> None:
    with pytest.raises(NotFittedError):
        TfidfFeaturizer().transform(["hello"])
    with pytest.raises(NotFittedError):
        _ = TfidfFeaturizer().n_features_


def test_follows_the_estimator_parameter_contract() -> None:
    featurizer = clone(TfidfFeaturizer(max_features=123))
    assert featurizer.get_params() == {"max_features": 123}


def test_survives_a_pickle_round_trip(featurizer: TfidfFeaturizer, texts: list[str]) -> None:
    restored = pickle.loads(pickle.dumps(featurizer))
    assert_allclose(restored.transform(texts).toarray(), featurizer.transform(texts).toarray())


def test_pool_features_picks_or_joins_the_kinds(features: sp.csr_matrix) -> None:
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(features.shape[0], 8)).astype(np.float32)
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    assert pool_features("tfidf", tfidf=features) is features
    assert pool_features("minilm", embeddings=embeddings) is embeddings
    both = pool_features("both", tfidf=features, embeddings=embeddings)
    assert sp.issparse(both) and both.dtype == np.float32
    assert both.shape == (features.shape[0], features.shape[1] + 8)
    assert_allclose(_row_norms(both), 1.0, rtol=1e-5)
    # equal weight: each unit block ends up with norm 1 / sqrt(2)
    assert_allclose(np.linalg.norm(both[:, -8:].toarray(), axis=1), 2**-0.5, rtol=1e-5)


def test_pool_features_needs_the_right_inputs(features: sp.csr_matrix) -> None:
    with pytest.raises(ValueError, match="unknown feature kind"):
        pool_features("bert", tfidf=features)
    with pytest.raises(ValueError, match="embeddings"):
        pool_features("both", tfidf=features)
    with pytest.raises(ValueError, match="TF-IDF"):
        pool_features("tfidf", embeddings=np.ones((2, 2)))
    with pytest.raises(ValueError, match="same rows"):
        pool_features("both", tfidf=features, embeddings=np.ones((2, 2)))
