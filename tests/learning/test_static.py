"""Static token embeddings: the distilled table, the encoder, and model2vec's format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

from app.learning import static
from app.learning.embeddings import TOKENIZER_PATH
from app.learning.static import StaticEncoder, distil_table, kept_tokens


def _tokenizer() -> Tokenizer:
    return Tokenizer.from_file(str(TOKENIZER_PATH))


def _encoder(dim: int = 8, **kwargs: int) -> StaticEncoder:
    tokenizer = _tokenizer()
    table = np.random.default_rng(0).normal(size=(tokenizer.get_vocab_size(), dim))
    return StaticEncoder(table.astype(np.float32), tokenizer, **kwargs)


def test_distil_table_reduces_weights_by_rank_and_zeroes_dropped_tokens() -> None:
    rng = np.random.default_rng(1)
    outputs = rng.normal(size=(500, 32)).astype(np.float32)
    keep = np.ones(500, dtype=bool)
    keep[[3, 10, 11]] = False
    table = distil_table(outputs, keep, dims=6, sif_coefficient=1e-3)
    assert table.shape == (500, 6) and table.dtype == np.float32
    assert not table[~keep].any()
    unweighted = distil_table(outputs, keep, dims=6, sif_coefficient=1e9)  # weight ~1 for all
    ratio = np.linalg.norm(table[keep], axis=1) / np.linalg.norm(unweighted[keep], axis=1)
    # SIF: the more frequent a token (the earlier in the vocabulary), the less it weighs.
    assert np.all(np.diff(ratio) > 0) and ratio[0] < 0.5 * ratio[-1]


def test_kept_tokens_drop_only_the_unused_placeholders() -> None:
    vocabulary = _tokenizer().get_vocab()
    keep = kept_tokens(vocabulary)
    assert not keep[vocabulary["[unused0]"]] and keep[vocabulary["the"]]
    assert (~keep).sum() == sum(1 for t in vocabulary if t.startswith("[unused"))


def test_a_text_is_the_normalised_mean_of_its_tokens() -> None:
    encoder = _encoder()
    texts = ["Refund my card payment", "refund", "", "   "]
    vectors = encoder.encode(texts)
    plain = _tokenizer()
    plain.no_padding()  # the file pads to 128 for MiniLM
    ids = plain.encode(texts[0], add_special_tokens=False).ids
    expected = encoder.table[ids].mean(axis=0)
    assert np.allclose(vectors[0], expected / np.linalg.norm(expected), atol=1e-6)
    assert np.allclose(np.linalg.norm(vectors[:2], axis=1), 1.0, atol=1e-6)
    assert not vectors[2:].any()  # no token: a zero row, not NaN
    assert encoder.encode([]).shape == (0, 8)


def test_texts_are_tokenised_a_block_at_a_time_with_the_same_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A big chunk of texts is tokenised in blocks (the tokenizer's output for 16k texts
    # took ~90 MB); the rows must not depend on where a block ends.
    encoder = _encoder()
    texts = [f"refund {i} for the card payment number {i * 7}" for i in range(11)] + [""]
    whole = encoder.encode(texts)
    monkeypatch.setattr(static, "ENCODE_BLOCK", 5)
    blocks: list[int] = []
    tokenise = encoder._encode_block
    monkeypatch.setattr(encoder, "_encode_block", lambda b: blocks.append(len(b)) or tokenise(b))
    assert np.array_equal(encoder.encode(texts), whole)
    assert blocks == [5, 5, 2]


def test_long_texts_are_cut_at_max_tokens() -> None:
    encoder = _encoder(max_tokens=4)
    head = "alpha beta gamma delta"
    assert np.allclose(encoder.encode([head + " epsilon zeta"]), encoder.encode([head]))


def test_saved_model_loads_in_model2vec_with_the_same_vectors(tmp_path: Path) -> None:
    from model2vec import StaticModel

    encoder = _encoder(dim=256)
    encoder.save(tmp_path / "static")
    texts = ["my card was charged twice", "where is my new pin?"]
    reloaded = StaticEncoder.load(tmp_path / "static")
    # Stored as float16 (half the bytes), used as float32.
    assert reloaded.table.dtype == np.float32
    assert np.array_equal(reloaded.table, encoder.table.astype(np.float16).astype(np.float32))
    table_bytes = encoder.table.shape[0] * encoder.table.shape[1] * 2
    assert (tmp_path / "static" / "model.safetensors").stat().st_size < table_bytes * 1.01
    assert np.allclose(reloaded.encode(texts), encoder.encode(texts), atol=2e-3)
    theirs = StaticModel.from_pretrained(tmp_path / "static").encode(texts)
    assert np.allclose(theirs, reloaded.encode(texts), atol=2e-3)
