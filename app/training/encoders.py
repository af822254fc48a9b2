"""The static encoder of a data directory: distilled from MiniLM once, then read from disk.

Distillation (`app.learning.static`) runs every vocabulary token through MiniLM: about a minute
on two cores, the first time a big pool needs fast features. The result is kept under
``<data_dir>/encoders/`` in model2vec's format and shared by every project; a lock file makes
concurrent workers build it once, and a rename makes it appear whole.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import threading
from pathlib import Path

from tokenizers import Tokenizer

from app import heap
from app.learning.embeddings import MINILM_MODEL_ID, MiniLMEncoder
from app.learning.static import STATIC_DIM, StaticEncoder, distil_table, kept_tokens

STATIC_KEY = f"{MINILM_MODEL_ID}-static{STATIC_DIM}"
DIRECTORY = "encoders"

_loaded: dict[Path, StaticEncoder] = {}
_lock = threading.Lock()


def static_path(data_dir: Path) -> Path:
    """The folder of the data directory's static encoder (model2vec's format)."""
    return data_dir / DIRECTORY / STATIC_KEY


def static_encoder(data_dir: Path) -> StaticEncoder:
    """The data directory's static encoder, built on first use (then cached per process)."""
    return loaded(static_path(data_dir))


def loaded(path: Path) -> StaticEncoder:
    """The static encoder saved at ``path``, distilled there first if it is not complete."""
    with _lock:
        if path not in _loaded:
            if not _complete(path):
                _build(path)
            _loaded[path] = StaticEncoder.load(path)
        return _loaded[path]


def _complete(path: Path) -> bool:
    return (path / "model.safetensors").is_file() and (path / "tokenizer.json").is_file()


def _build(path: Path) -> None:
    """Distil and save into ``path``, unless another process did while this one waited."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with (path.parent / f".{path.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _complete(path):
            return
        minilm = MiniLMEncoder()
        tokenizer = Tokenizer.from_str(minilm.tokenizer.to_str())  # a copy: settings change
        outputs = minilm.token_outputs()
        del minilm  # its session (~190 MB) goes, and back to the system, before PCA's copies
        heap.trim()
        table = distil_table(outputs, kept_tokens(tokenizer.get_vocab()))
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        StaticEncoder(table, tokenizer).save(tmp)
        shutil.rmtree(path, ignore_errors=True)  # an incomplete earlier attempt
        os.replace(tmp, path)
