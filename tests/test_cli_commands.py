"""The ``labelloop`` subcommands for accounts and members, run in-process (``app.cli.main``)
against a real database: the same parser and code as the console command, without a
process start per call (``tests/test_cli.py`` runs the console command itself)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from app.cli import main
from app.db import Database
from app.models import AuditEvent
from tests.server import server_env

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Cli]:
    """``labelloop ARGS`` in this process, with the test database's environment."""
    for key, value in server_env(db_url, tmp_path / "data").items():
        if key.startswith("LABELLOOP_"):
            monkeypatch.setenv(key, value)
    umask = os.umask(0)
    os.umask(umask)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        capsys.readouterr()
        try:
            code = main(list(args))
        finally:
            os.umask(umask)  # the command makes its files private: not this test process's
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(list(args), code, out, err)

    yield run


def test_user_commands_manage_accounts_and_tokens(cli: Cli) -> None:
    add = cli("user", "add", "bot")
    assert add.returncode == 0 and "API-only" in add.stdout
    made = cli("user", "token", "create", "bot", "--token-name", "ci")
    assert made.returncode == 0, made.stderr
    listed = cli("user", "token", "list", "bot").stdout
    assert "\tci\t" in listed and "\tdefault\t" in listed
    token_id = listed.splitlines()[0].split("\t")[0]
    assert cli("user", "token", "revoke", "bot", token_id).returncode == 0
    assert "\tci\t" not in cli("user", "token", "list", "bot").stdout
    assert cli("user", "disable", "bot").returncode == 0
    assert "\tdisabled\t" in cli("user", "list").stdout
    assert cli("user", "enable", "bot").returncode == 0
    reset = cli("user", "reset-password", "bot", "--password", "a-new-password", "--revoke-tokens")
    assert reset.returncode == 0 and "revoked" in reset.stdout
    assert cli("user", "token", "list", "bot").stdout == ""
    assert cli("user", "delete", "bot").returncode == 0
    assert "bot" not in cli("user", "list").stdout
    missing = cli("user", "disable", "bot")
    assert missing.returncode == 1 and "no user named 'bot'" in missing.stderr


def test_project_members_commands_add_change_and_remove(cli: Cli, db: Database) -> None:
    from tests.factories import create_project, create_user

    project = create_project(db, name="cli-members", members={})
    create_user(db, name="pia", role="annotator", projects=())
    members = ("project", "members")
    pid = str(project.id)
    added = cli(*members, "add", pid, "pia", "--role", "reviewer")
    assert added.returncode == 0, added.stderr
    assert "\tpia\treviewer\t" in cli(*members, "list", pid).stdout
    changed = cli(*members, "set-role", pid, "pia", "--role", "manager")
    assert changed.returncode == 0, changed.stderr
    assert "\tpia\tmanager\t" in cli(*members, "list", pid).stdout
    assert cli(*members, "remove", pid, "pia").returncode == 0
    assert cli(*members, "list", pid).stdout == ""
    again = cli(*members, "remove", pid, "pia")
    assert again.returncode == 1 and "not a member" in again.stderr
    with db.reader() as session:
        actions = session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.action.like("member.%"))
            .order_by(AuditEvent.id)
        ).all()
    assert actions == ["member.add", "member.role", "member.remove"]


@pytest.mark.parametrize("stdin", [io.StringIO(""), None], ids=["at-eof", "closed"])
@pytest.mark.parametrize("command", [("add", "cy"), ("reset-password", "bot")])
def test_a_password_prompt_with_nothing_to_read_is_a_one_line_error(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, stdin: io.StringIO | None, command: tuple[str, str]
) -> None:
    assert cli("user", "add", "bot").returncode == 0
    monkeypatch.setattr(sys, "stdin", stdin)
    refused = cli("user", *command, "--password")
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.startswith("error: no password to read: standard input ended")
    assert len(refused.stderr.splitlines()) == 1
    assert "\tcy\t" not in cli("user", "list").stdout


def test_a_piped_password_is_read_from_its_line(
    cli: Cli, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.users.service import authenticate

    monkeypatch.setattr(sys, "stdin", io.StringIO("a-piped-password\r\nignored\n"))
    added = cli("user", "add", "cy", "--password")
    assert added.returncode == 0, added.stderr
    with db.writer() as session, session.begin():
        assert authenticate(session, "cy", "a-piped-password") is not None
