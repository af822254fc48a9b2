"""The one place model files are written and read: joblib, with sha256 and library versions.

A file is loaded only if its sha256 matches the digest recorded when it was written, so a
swapped or corrupted file is refused instead of unpickled.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import joblib
import sklearn

SKLEARN_VERSION = sklearn.__version__


class ArtifactError(RuntimeError):
    """A model file is missing, was changed after it was written, or cannot be read."""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save(obj: Any, path: Path) -> str:
    """Write ``obj`` atomically (temp file, fsync, rename) and return the file's sha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as fh:
        joblib.dump({"sklearn_version": SKLEARN_VERSION, "payload": obj}, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return file_sha256(path)


def load(path: Path, sha256: str) -> Any:
    """Read a file written by :func:`save`, after checking its digest."""
    if not path.is_file():
        raise ArtifactError(f"model file {path.name} is missing")
    actual = file_sha256(path)
    if actual != sha256:
        raise ArtifactError(f"model file {path.name} does not match its recorded sha256")
    bundle = joblib.load(path)
    if bundle.get("sklearn_version") != SKLEARN_VERSION:
        raise ArtifactError(
            f"model file {path.name} was written by scikit-learn {bundle.get('sklearn_version')}, "
            f"this is {SKLEARN_VERSION}: retrain the project"
        )
    return bundle["payload"]
