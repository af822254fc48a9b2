"""A short or guessable LABELLOOP_SECRET_KEY is refused outside development."""

from __future__ import annotations

import logging
import secrets
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.cli import main
from app.config import Settings
from app.secret_strength import MIN_SECRET_BITS, estimated_bits
from app.web.security import session_secret

GOOD = "pQ9d-XwZr2mKf7Lb_T0vYh3JcN8sGa1UeR6iWo4BtMxVqD5yHlEz-kSj2Fn7gCu0"  # token_urlsafe(48)


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        ("changeme", "8 characters long, shorter than 32"),
        ("s3cr3t-but-short", "16 characters long, shorter than 32"),
        ("", "0 characters long"),
        # Long enough and varied enough for a placeholder list and a distinct-character count:
        ("changeme-changeme-changeme-changeme", "guessable"),
        ("0123456789abcdef0123456789abcdef", "guessable"),
        ("0123456789abcdef" * 4, "guessable"),
        ("qwertyuiopasdfghjklzxcvbnm1234567890qwertyuiop", "guessable"),
        ("this-is-the-production-secret-key-of-labelloop", "guessable"),
        ("a" * 64, "guessable"),
        ("changeme-" * 20, "guessable"),  # past what zxcvbn scores: its start is judged
    ],
)
def test_weak_secrets_are_refused_in_production(secret: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        Settings(environment="production", secret_key=secret)


def test_generated_secrets_pass_with_room_to_spare() -> None:
    for _ in range(20):
        secret = secrets.token_urlsafe(48)
        assert Settings(environment="production", secret_key=secret).secret_key == secret
        assert estimated_bits(secret) > 1.5 * MIN_SECRET_BITS
    long_key = secrets.token_urlsafe(300)  # longer than zxcvbn accepts: scored by its start
    assert Settings(environment="production", secret_key=long_key).secret_key == long_key


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


def test_serve_refuses_to_start_with_a_guessable_key_in_production(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LABELLOOP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LABELLOOP_ENVIRONMENT", "production")
    monkeypatch.setenv("LABELLOOP_SECRET_KEY", "changeme-changeme-changeme-changeme")
    assert main(["serve", "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert "LABELLOOP_SECRET_KEY is guessable" in err and "token_urlsafe(48)" in err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # refused before touching anything
