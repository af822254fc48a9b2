"""``labelloop oracle list|add|stats|remove``, in-process against a real database."""

from __future__ import annotations

import json

from sqlalchemy import select

from app.db import Database
from app.models import AuditEvent, Oracle
from tests.factories import create_project
from tests.test_cli_commands import Cli, cli

__all__ = ["cli"]


def test_oracle_commands_add_list_measure_and_remove(cli: Cli, db: Database) -> None:
    project = create_project(db)
    pid = str(project.id)
    internal = cli("oracle", "add", pid, "llm", "--url", "http://127.0.0.1:8080/v1", "--model", "m")
    assert internal.returncode == 1 and "LABELLOOP_ORACLE_HOSTS" in internal.stderr
    pasted = cli(
        "oracle", "add", pid, "llm", "--url", "http://1.1.1.1/v1", "--model", "m",
        "--api-key-env", "sk-abc123",
    )  # fmt: skip
    assert pasted.returncode == 1 and "environment variable" in pasted.stderr
    with db.reader() as session:
        assert session.scalars(select(Oracle)).all() == []
    added = cli(
        "oracle", "add", pid, "llm", "--url", "http://1.1.1.1/v1", "--model", "m",
        "--api-key-env", "LLM_KEY", "--budget-calls", "50",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    oracle_id = added.stdout.split()[2]
    listed = cli("oracle", "list", pid).stdout
    assert listed.startswith(f"{oracle_id}\tllm\topenai\ton\t0/50 calls")
    stats = json.loads(cli("oracle", "stats", pid, oracle_id).stdout)
    assert stats["answered"] == 0 and stats["trust"]["route"]["open"] is False
    assert stats["oracle"]["config"]["api_key_env"] == "LLM_KEY"
    assert cli("oracle", "remove", pid, oracle_id).returncode == 0
    assert cli("oracle", "list", pid).stdout == ""
    assert cli("oracle", "stats", pid, oracle_id).returncode == 1
    with db.reader() as session:
        actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert [a for a in actions if a.startswith("oracle.")] == ["oracle.add", "oracle.remove"]
