"""MiniLM sentence encoder: shapes, unit rows, meaning, order, and the pooling arithmetic."""

import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose

from app.learning.embeddings import (
    MINILM_DIM,
    TOKENIZER_PATH,
    EmbeddingModelError,
    MiniLMEncoder,
    mean_pool,
)


@pytest.fixture(scope="module")
def encoder() -> MiniLMEncoder:
    return MiniLMEncoder(batch_size=4, threads=1)


def test_encodes_to_unit_float32_rows(encoder: MiniLMEncoder) -> None:
    vectors = encoder.encode(["How do I top up my card?", "", "a" * 5000])
    assert vectors.shape == (3, MINILM_DIM) and vectors.dtype == np.float32
    assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)


def test_similar_sentences_are_closer_than_unrelated_ones(encoder: MiniLMEncoder) -> None:
    a, b, c = encoder.encode(
        ["How can I top up my card?", "I want to add money to my card.", "The striker scored."]
    )
    assert a @ b > 0.5 > a @ c


def test_output_follows_input_order_whatever_the_batching(encoder: MiniLMEncoder) -> None:
    texts = ["short", "a much longer sentence about cooking pasta", "mid length text", "x"] * 3
    together = encoder.encode(texts)
    one_by_one = np.vstack([encoder.encode([t]) for t in texts])
    assert_allclose(together, one_by_one, atol=1e-4)  # padding does not change a vector


def test_empty_input_gives_an_empty_matrix(encoder: MiniLMEncoder) -> None:
    assert encoder.encode([]).shape == (0, MINILM_DIM)


def test_cache_key_names_model_and_truncation(encoder: MiniLMEncoder) -> None:
    assert encoder.cache_key == "all-MiniLM-L6-v2-onnx-int8-len128"


def test_idle_threads_sleep_rather_than_spin(encoder: MiniLMEncoder) -> None:
    # A spinning intra-op pool takes the cores a training run needs while the worker embeds
    # a big pool in the background (bench/README.md, "As a client sees it").
    options = encoder._session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_no_memory_plan_is_kept_between_calls(encoder: MiniLMEncoder) -> None:
    # onnxruntime's memory patterns kept ~60 MB more per process for no speed gain on this
    # model (bench/README.md, "memory.py"); the background embedding holds a session for hours.
    assert not encoder._session.get_session_options().enable_mem_pattern


SESSION_GROWTH = """
import onnxruntime, tokenizers
from app import heap
from app.learning.embeddings import MiniLMEncoder
before = heap.rss_bytes()
encoder = MiniLMEncoder()
encoder.encode(["a first call", "allocates what inference needs"] * 16)
print(heap.rss_bytes() - before)
"""


def test_an_encoder_keeps_not_much_more_than_its_float_weights() -> None:
    # Folding the int8 weights into ~90 MB of float32 left ~60 MB of freed buffers in the
    # process for good (~165 MB in all); the background embedding holds a session for hours.
    grown = subprocess.run(
        [sys.executable, "-c", SESSION_GROWTH], capture_output=True, text=True, check=True
    )
    assert int(grown.stdout) < 130 * 2**20, int(grown.stdout) / 2**20


def test_the_tokenizer_ships_with_the_code() -> None:
    assert TOKENIZER_PATH.is_file()
    assert (TOKENIZER_PATH.parent / "NOTICE.md").is_file()


def test_mean_pool_ignores_padding() -> None:
    hidden = np.array([[[1.0, 0.0], [3.0, 0.0], [100.0, 100.0]]], dtype=np.float32)
    mask = np.array([[1, 1, 0]])
    assert_allclose(mean_pool(hidden, mask), [[1.0, 0.0]])


def test_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="max_length"):
        MiniLMEncoder(max_length=1)


def test_a_wrong_model_file_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    fake = tmp_path / "model.onnx"
    fake.write_bytes(b"not the model")
    monkeypatch.setattr("app.learning.embeddings.default_model_path", lambda: fake)
    with pytest.raises(EmbeddingModelError, match="pinned"):
        MiniLMEncoder()
