"""The local language model for the oracle and browser tests: a real ``labelloop oracle
serve-local``, registered once for the whole suite by ``tests/conftest.py``.

One server per session (the model loads in seconds, but is assembled from its packages
first); a test that stops its server gets one of its own. Every test that uses one of these
fixtures is marked ``llm`` and ``process`` (left out of ``make test-fast``; ``make test`` runs
it).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app.oracles.config import OpenAIOracleConfig
from app.oracles.local import MODEL_ALIAS
from tests.server import free_port, running

LLM_FIXTURES = frozenset({"local_llm", "stoppable_llm", "llm_data"})
KEY_ENV = "LABELLOOP_TEST_ORACLE_KEY"  # the variable the client and the server read the key from
START_TIMEOUT = 300  # seconds: the first start assembles 250 MB and loads it on a busy machine


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that use the local model (see LLM_FIXTURES)."""
    for item in items:
        if LLM_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.llm)
            item.add_marker(pytest.mark.process)


@dataclass(frozen=True)
class LocalLLM:
    """A running local server: where it is and the key it requires."""

    base_url: str
    api_key: str
    process: subprocess.Popen[bytes]
    log: Path

    def config(self, **options: object) -> OpenAIOracleConfig:
        """A client configuration for this server (the key is read from ``KEY_ENV``)."""
        fields: dict[str, object] = {
            "base_url": self.base_url,
            "model": MODEL_ALIAS,
            "api_key_env": KEY_ENV,
            "response_format": "json_object_schema",  # llama-cpp-python's spelling
            "timeout_seconds": 120.0,
        }
        return OpenAIOracleConfig.model_validate({**fields, **options})


def _env(data_dir: Path, key: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABELLOOP_")}
    env.update(LABELLOOP_DATA_DIR=str(data_dir), **{KEY_ENV: key})
    return env


def _wait_until_up(llm: LocalLLM) -> None:
    """Until the server lists its model (it loads the model before it listens)."""
    deadline = time.monotonic() + START_TIMEOUT
    headers = {"Authorization": f"Bearer {llm.api_key}"}
    while time.monotonic() < deadline:
        if llm.process.poll() is not None:
            pytest.fail(f"serve-local exited with {llm.process.returncode}:\n{llm.log.read_text()}")
        try:
            if httpx.get(f"{llm.base_url}/models", headers=headers, timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)  # polling interval while the port is not yet open
    pytest.fail(f"serve-local did not answer in {START_TIMEOUT} s:\n{llm.log.read_text()}")


@contextmanager
def serve_local(data_dir: Path) -> Iterator[LocalLLM]:
    """``labelloop oracle serve-local`` on a free port, requiring a fresh random key."""
    key = secrets.token_urlsafe(24)
    port = free_port()
    log = data_dir.parent / f"serve-local-{port}.log"
    args = ("oracle", "serve-local", "--port", str(port), "--api-key-env", KEY_ENV)
    with running(*args, env=_env(data_dir, key), log=log) as proc:
        llm = LocalLLM(f"http://127.0.0.1:{port}/v1", key, proc, log)
        _wait_until_up(llm)
        yield llm


@pytest.fixture(scope="session")
def llm_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data directory the servers share (the model file is assembled there once)."""
    return tmp_path_factory.mktemp("llm") / "data"


@pytest.fixture(scope="session")
def local_llm(llm_data: Path) -> Iterator[LocalLLM]:
    with serve_local(llm_data) as llm:
        yield llm


@pytest.fixture
def stoppable_llm(llm_data: Path, local_llm: LocalLLM) -> Iterator[LocalLLM]:
    """A server of this test's own, to stop; after the session's (which assembles the model)."""
    with serve_local(llm_data) as llm:
        yield llm


@pytest.fixture
def oracle_key(local_llm: LocalLLM, monkeypatch: pytest.MonkeyPatch) -> str:
    """The session server's key, where the client looks for it."""
    monkeypatch.setenv(KEY_ENV, local_llm.api_key)
    return local_llm.api_key
