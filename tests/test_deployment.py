"""The Dockerfile and compose file are linted and schema-checked (no engine runs here), and
hold no password, no floating image tag, and a health check for every long-running service."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

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


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_takes_the_database_password_from_env() -> None:
    compose = _compose()
    db_env = compose["services"]["db"]["environment"]
    assert db_env["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    for name, service in compose["services"].items():
        env = service.get("environment", {})
        url = env.get("LABELLOOP_DATABASE_URL")
        if url is not None:
            credentials = url.split("//", 1)[1].split("@", 1)[0]
            assert ":" not in credentials, f"{name}: a password in LABELLOOP_DATABASE_URL"
            assert env["PGPASSWORD"].startswith("${POSTGRES_PASSWORD:?"), name
    text = (ROOT / "docker-compose.yml").read_text()
    literal = re.search(r"^\s*\w*PASSWORD\w*:\s*(?!\$\{)\S", text, re.M)
    assert literal is None, f"a literal password in the compose file: {literal.group(0)!r}"
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()
    assert re.search(r"^POSTGRES_PASSWORD=$", (ROOT / ".env.example").read_text(), re.M)


def test_images_are_pinned_to_exact_versions() -> None:
    images = [s["image"] for s in _compose()["services"].values() if "image" in s]
    dockerfile = (ROOT / "Dockerfile").read_text()
    images += re.findall(r"^FROM\s+(\S+)", dockerfile, re.M)
    assert len(images) >= 3
    for image in images:
        assert re.fullmatch(r"[\w./-]+:\d+\.\d+(\.\d+)?(-[\w.-]+)?", image), image


def test_web_and_worker_have_health_checks() -> None:
    services = _compose()["services"]
    web = services["web"]["healthcheck"]["test"]
    assert web[:2] == ["CMD", "python"] and "/health" in web[-1]
    assert services["worker"]["healthcheck"]["test"] == ["CMD", "labelloop", "worker", "--check"]
    assert "healthcheck" in services["db"]
    assert "curl" not in (ROOT / "Dockerfile").read_text()  # hence python for the web check
