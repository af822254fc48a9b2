"""Static token embeddings distilled from MiniLM (the model2vec method): features for big pools.

MiniLM embeds about 140 texts/s on two cores, so a million-item pool would wait hours for its
first model. Here every vocabulary token is run through MiniLM once, on its own
(`MiniLMEncoder.token_outputs`); PCA keeps `STATIC_DIM` components, and each token is scaled by
its smooth inverse frequency (SIF), the frequency estimated from its rank in the vocabulary by
Zipf's law (the WordPiece vocabulary lists words roughly by frequency). A text is then the mean
of its tokens' vectors, L2-normalised: a sparse bag of tokens times a table, tens of thousands
of texts a second. Distillation needs no data and takes about a minute, once per data directory.

The result is saved in model2vec's format, so `model2vec.StaticModel.from_pretrained` loads it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.decomposition import PCA

STATIC_DIM = 256
SIF_COEFFICIENT = 1e-4
ENCODE_BLOCK = 2_048  # texts tokenised at once
MAX_TOKENS = 512  # per text, as model2vec's encode: a long document's head is enough
# Tokens never seen in training text carry no meaning: model2vec drops them too.
UNUSED_TOKEN = re.compile(r"\[unused\d+\]")


def distil_table(
    token_outputs: np.ndarray,
    keep: np.ndarray,
    *,
    dims: int = STATIC_DIM,
    sif_coefficient: float = SIF_COEFFICIENT,
) -> np.ndarray:
    """Reduce and weight per-token model outputs into a static embedding table.

    Args:
        token_outputs: (V, d) float32, the model's output for each token id on its own.
        keep: (V,) bool, the tokens to keep; the others get a zero row (ids stay aligned
            with the tokenizer) and take no rank.
        dims: PCA components kept (<= d).
        sif_coefficient: a in a / (a + p(token)); smaller weighs frequent tokens down more.

    Returns:
        (V, dims) float32 table.
    """
    keep = np.asarray(keep, dtype=bool)
    # From the (d, d) covariance: a full SVD would hold (V, d) factors besides the outputs
    # (distilling peaked ~100 MB higher; the table differs by < 0.4 % of its largest value).
    pca = PCA(n_components=dims, svd_solver="covariance_eigh", random_state=0)
    pca.fit(token_outputs[keep])
    table = pca.transform(token_outputs).astype(np.float32)
    rank = np.cumsum(keep) - 1  # among the kept tokens, in vocabulary order
    inv_rank = 1.0 / (rank + 2.0)
    proba = inv_rank / inv_rank[keep].sum()
    table *= (sif_coefficient / (sif_coefficient + proba)).astype(np.float32)[:, None]
    table[~keep] = 0.0
    return table


def kept_tokens(vocabulary: dict[str, int]) -> np.ndarray:
    """(V,) bool over token ids: False for the ``[unusedN]`` placeholders."""
    keep = np.ones(len(vocabulary), dtype=bool)
    for token, token_id in vocabulary.items():
        if UNUSED_TOKEN.fullmatch(token):
            keep[token_id] = False
    return keep


class StaticEncoder:
    """Texts in, (n, dim) float32 unit rows out: the mean of the tokens' rows of ``table``.

    Thread-safe and picklable only through ``save``/``load`` (it holds a Rust tokenizer).
    """

    def __init__(self, table: np.ndarray, tokenizer: Any, *, max_tokens: int = MAX_TOKENS) -> None:
        self.table = np.ascontiguousarray(table, dtype=np.float32)
        # A text is its own tokens only: no padding to a batch length, no truncation inside
        # the tokenizer (``max_tokens`` cuts the ids), no special tokens (``encode``).
        tokenizer.no_padding()
        tokenizer.no_truncation()
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens

    @property
    def dim(self) -> int:
        return int(self.table.shape[1])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts; a text with no known token gets a zero row.

        Returns:
            float32 (n, dim), rows of unit L2 norm (or zero).
        """
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        # A block at a time: the tokenizer's encodings of 16k texts took ~90 MB at their peak
        # and malloc kept ~70 MB of it; blocks of 2,048 peak at ~30 MB, as fast.
        for start in range(0, len(texts), ENCODE_BLOCK):
            block = texts[start : start + ENCODE_BLOCK]
            out[start : start + len(block)] = self._encode_block(block)
        return out

    def _encode_block(self, texts: Sequence[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch_fast(list(texts), add_special_tokens=False)
        ids = [e.ids[: self.max_tokens] for e in encodings]
        lengths = np.fromiter((len(i) for i in ids), dtype=np.int64, count=len(ids))
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        flat = np.fromiter((t for row in ids for t in row), dtype=np.int32, count=int(indptr[-1]))
        bag = sp.csr_matrix(
            (np.ones(flat.size, dtype=np.float32), flat, indptr),
            shape=(len(ids), self.table.shape[0]),
        )
        vectors = np.asarray(bag @ self.table, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    def save(self, directory: Path) -> None:
        """Write the model in model2vec's format (``model.safetensors``, ``tokenizer.json``,
        ``config.json``) into ``directory``.

        The table is stored as float16: half the bytes on disk (16 MB instead of 31 for the
        30k-token vocabulary), at the precision pools' vectors are stored in anyway
        (``bench/README.md``, "Static features"). ``load`` widens it to float32 again, for
        the speed of the bag-of-tokens product.
        """
        from model2vec import StaticModel

        config = {"normalize": True, "sif_coefficient": SIF_COEFFICIENT, "apply_pca": self.dim}
        model = StaticModel(
            vectors=self.table.astype(np.float16),
            tokenizer=self.tokenizer,
            config=config,
            normalize=True,
        )
        model.save_pretrained(directory)

    @classmethod
    def load(cls, directory: Path) -> StaticEncoder:
        """Read a model saved by ``save`` (or any model2vec model with a WordPiece tokenizer)."""
        from model2vec import StaticModel

        model = StaticModel.from_pretrained(directory)
        return cls(np.asarray(model.embedding, dtype=np.float32), model.tokenizer)
