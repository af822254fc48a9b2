"""The Dockerfile and compose file are linted and schema-checked (no engine runs here)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server import ROOT


def _run(*cmd: str) -> subprocess.CompletedProcess:
    tool = shutil.which(cmd[0], path=str(Path(sys.executable).parent))
    if tool is None:
        pytest.fail(f"{cmd[0]} is missing: install the dev dependencies")
    return subprocess.run([tool, *cmd[1:]], cwd=ROOT, capture_output=True, text=True, check=False)


def test_dockerfile_passes_hadolint() -> None:
    done = _run("hadolint", "Dockerfile")
    assert done.returncode == 0, done.stdout + done.stderr


def test_compose_file_matches_the_compose_spec() -> None:
    done = _run("check-jsonschema", "--builtin-schema", "vendor.compose-spec", "docker-compose.yml")
    assert done.returncode == 0, done.stdout + done.stderr
