"""A placeholder or short LABELLOOP_SECRET_KEY is refused outside development."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.cli import main
from app.config import Settings
from app.web.security import session_secret

GOOD = "Zq3vW8rT1yU6iO0pA5sD9fG2hJ7kL4xC"  # 32 characters, varied


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        ("changeme", "placeholder"),
        ("Change-Me", "placeholder"),
        ("your_secret_key", "placeholder"),
        ("s3cr3t-but-short", "16 characters long, shorter than 32"),
        ("a" * 64, "too few distinct characters"),
        ("", "0 characters long"),
    ],
)
def test_weak_secrets_are_refused_in_production(secret: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        Settings(environment="production", secret_key=secret)


def test_a_real_secret_or_none_is_fine_in_production() -> None:
    assert Settings(environment="production", secret_key=GOOD).secret_key == GOOD
    assert Settings(environment="production").secret_key is None  # generated into data_dir


def test_development_accepts_a_weak_secret_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(data_dir=tmp_path, secret_key="dev")
    assert settings.environment == "development"
    with caplog.at_level(logging.WARNING, logger="labelloop"):
        assert session_secret(settings) == "dev"
    assert "acceptable in development only" in caplog.text


def test_generated_secret_is_private_random_and_stable(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = session_secret(settings)
    assert len(first) >= 32 and session_secret(settings) == first
    mode = (tmp_path / "secret_key").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]  # nothing left aside


def test_serve_refuses_to_start_with_a_placeholder_in_production(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LABELLOOP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LABELLOOP_ENVIRONMENT", "production")
    monkeypatch.setenv("LABELLOOP_SECRET_KEY", "changeme")
    assert main(["serve", "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert "LABELLOOP_SECRET_KEY is a well-known placeholder" in err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # refused before touching anything
