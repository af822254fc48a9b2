"""The ``labelloop`` command as a user runs it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from app.db import Database
from app.models import ApiToken, User
from app.users.tokens import hash_token
from tests.factories import create_user
from tests.server import ROOT, labelloop, server_env

pytestmark = pytest.mark.process


def test_user_add_prints_the_token_last(db_url: str, db: Database, tmp_path: Path) -> None:
    env = server_env(db_url, tmp_path / "data")
    done = labelloop("user", "add", "carol", "--role", "admin", env=env)
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip().splitlines()[-1]
    with db.reader() as session:
        user = session.scalar(select(User).where(User.name == "carol"))
        digests = session.scalars(select(ApiToken.token_hash)).all()
    assert user is not None and user.role == "admin"
    assert digests == [hash_token(token)] and token not in digests[0]
    again = labelloop("user", "add", "carol", env=env)
    assert again.returncode == 1 and "already exists" in again.stderr


def test_serve_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    env = server_env(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path / "data")
    done = labelloop("serve", "--port", "1", env=env, timeout=60)
    assert done.returncode == 2
    assert "not migrated" in done.stderr and "labelloop migrate" in done.stderr


def test_migrate_then_demo(tmp_path: Path) -> None:
    env = server_env(f"sqlite:///{tmp_path / 'x.db'}", tmp_path / "data")
    assert labelloop("migrate", env=env).returncode == 0
    demo = labelloop("demo", env=env)
    assert demo.returncode == 0, demo.stderr
    assert "created" in demo.stdout and demo.stdout.strip().splitlines()[-1].startswith("ll_")
    again = labelloop("demo", env=env)
    assert "already present" in again.stdout
    other = labelloop("demo", "--task", "translation_review", env=env)
    assert other.returncode == 0, other.stderr
    assert "'Translation review demo'" in other.stdout and "created" in other.stdout
    assert "unchanged" in other.stdout and "ll_" not in other.stdout  # the admin is kept


def test_running_the_demo_again_keeps_the_admins_credentials(
    db_url: str, db: Database, tmp_path: Path
) -> None:
    from app.users.service import authenticate

    env = server_env(db_url, tmp_path / "data")
    first = labelloop("demo", env=env).stdout
    password = re.search(r"with password (\S+)", first)
    assert password, first
    token = first.strip().splitlines()[-1]
    again = labelloop("demo", env=env)
    assert again.returncode == 0 and "unchanged" in again.stdout
    assert "ll_" not in again.stdout and password.group(1) not in again.stdout
    with db.writer() as session, session.begin():
        assert authenticate(session, "admin", password.group(1)) is not None
        assert session.scalar(select(ApiToken.id).where(ApiToken.token_hash == hash_token(token)))


def test_user_add_with_a_password_can_sign_in(db_url: str, db: Database, tmp_path: Path) -> None:
    from app.users.service import authenticate

    env = server_env(db_url, tmp_path / "data")
    done = labelloop("user", "add", "dan", "--password", "long-enough-pw", env=env)
    assert done.returncode == 0, done.stderr
    short = labelloop("user", "add", "eve", "--password", "short", env=env)
    assert short.returncode == 1 and "at least 8 characters" in short.stderr
    with db.writer() as session, session.begin():
        assert authenticate(session, "dan", "long-enough-pw") is not None
        assert authenticate(session, "dan", "wrong-password") is None


def test_a_password_prompt_without_a_terminal_fails_in_one_line(
    db_url: str, db: Database, tmp_path: Path
) -> None:
    create_user(db, name="dan", role="annotator", password="long-enough-pw")
    env = server_env(db_url, tmp_path / "data")
    done = labelloop(
        "user",
        "reset-password",
        "dan",
        "--password",
        env=env,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # no controlling terminal to prompt on either
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("error: no password to read") and done.stderr.count("\n") == 1


HEAVY = ("sklearn", "scipy", "pandas", "cleanlab", "statsmodels", "onnxruntime")


def test_account_commands_start_without_the_learning_stack() -> None:
    # `labelloop user ...` took ~4.5 s before it did anything: the project options imported
    # the ranking code, and with it scikit-learn, SciPy and pandas.
    code = f"import sys, app.cli_users; print([m for m in {HEAVY!r} if m in sys.modules])"
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert loaded.stdout.strip() == "[]", loaded.stdout
