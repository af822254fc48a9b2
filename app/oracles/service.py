"""A project's oracles: add, change, remove (audited), and their rows as the API shows them.

A configuration is validated against its kind's typed model and its host checked against
``LABELLOOP_ORACLE_HOSTS`` when saved, so a typo or an internal address is a 422 naming the
field, not a failure found later by the worker.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.service import Actor, record
from app.errors import Conflict, Invalid, NotFound
from app.models import Oracle, Project
from app.oracles import hosts
from app.oracles.clients import url_of
from app.oracles.config import HttpOracleConfig, OpenAIOracleConfig, parse_config
from app.oracles.schemas import OracleIn, OracleOut, OraclePatch


def _config(kind: str, raw: dict[str, Any], allowed: Sequence[str]) -> dict[str, Any]:
    """The configuration as stored (defaults filled in); Invalid names the field at fault."""
    try:
        config: OpenAIOracleConfig | HttpOracleConfig = parse_config(kind, raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise Invalid(f"config.{where}: {first['msg']}") from None
    try:
        hosts.check_url(url_of(config), allowed)
    except hosts.HostRefused as exc:
        raise Invalid(f"config: {exc}") from None
    return config.model_dump(mode="json")


def list_oracles(session: Session, project: Project) -> list[Oracle]:
    return list(
        session.scalars(select(Oracle).where(Oracle.project_id == project.id).order_by(Oracle.id))
    )


def get_oracle(session: Session, project: Project, oracle_id: int) -> Oracle:
    """The project's oracle ``oracle_id``; another project's is a 404 like a missing one."""
    oracle = session.get(Oracle, oracle_id)
    if oracle is None or oracle.project_id != project.id:
        raise NotFound(f"oracle {oracle_id} not found")
    return oracle


def _unique_name(session: Session, project: Project, name: str, oracle_id: int | None) -> None:
    clash = session.scalar(
        select(Oracle.id).where(Oracle.project_id == project.id, Oracle.name == name)
    )
    if clash is not None and clash != oracle_id:
        raise Conflict(f"the project already has an oracle named {name!r}")


def add_oracle(
    session: Session, project: Project, data: OracleIn, *, actor: Actor, allowed: Sequence[str]
) -> Oracle:
    _unique_name(session, project, data.name, None)
    oracle = Oracle(
        project_id=project.id,
        name=data.name,
        kind=data.kind,
        config=_config(data.kind, data.config, allowed),
        enabled=data.enabled,
        concurrency=data.concurrency,
        budget_calls=data.budget_calls,
        budget_tokens=data.budget_tokens,
        cost_per_1k_tokens=data.cost_per_1k_tokens,
        calls_used=0,
        tokens_used=0,
        failures=0,
    )
    session.add(oracle)
    session.flush()
    detail = {"kind": data.kind, **oracle.config}
    record(session, actor, "oracle.add", target=data.name, project_id=project.id, detail=detail)
    return oracle


def change_oracle(
    session: Session,
    project: Project,
    oracle: Oracle,
    data: OraclePatch,
    *,
    actor: Actor,
    allowed: Sequence[str],
) -> Oracle:
    changes = data.model_dump(exclude_unset=True, exclude={"reset_usage"})
    if "name" in changes and changes["name"] is not None:
        _unique_name(session, project, changes["name"], oracle.id)
    if changes.get("config") is not None:
        changes["config"] = _config(oracle.kind, changes["config"], allowed)
    for field in ("name", "config", "enabled", "concurrency"):
        if changes.get(field) is not None:
            setattr(oracle, field, changes[field])
    for field in ("budget_calls", "budget_tokens", "cost_per_1k_tokens"):
        if field in changes:  # null lifts the limit
            setattr(oracle, field, changes[field])
    if data.reset_usage:
        oracle.calls_used, oracle.tokens_used = 0, 0
        changes["reset_usage"] = True
    oracle.failures, oracle.backoff_until = 0, None  # a change is worth a new try at once
    session.flush()
    record(
        session, actor, "oracle.change", target=oracle.name, project_id=project.id, detail=changes
    )
    return oracle


def remove_oracle(session: Session, project: Project, oracle: Oracle, *, actor: Actor) -> None:
    """Remove the oracle and its suggestions (labels people accepted stay theirs)."""
    record(session, actor, "oracle.remove", target=oracle.name, project_id=project.id)
    session.delete(oracle)
    session.flush()


def out(oracle: Oracle) -> OracleOut:
    cost = (
        None
        if oracle.cost_per_1k_tokens is None
        else round(oracle.tokens_used / 1000 * oracle.cost_per_1k_tokens, 6)
    )
    return OracleOut(
        id=oracle.id,
        name=oracle.name,
        kind=oracle.kind,
        config=dict(oracle.config),
        enabled=oracle.enabled,
        concurrency=oracle.concurrency,
        budget_calls=oracle.budget_calls,
        budget_tokens=oracle.budget_tokens,
        cost_per_1k_tokens=oracle.cost_per_1k_tokens,
        calls_used=oracle.calls_used,
        tokens_used=oracle.tokens_used,
        cost=cost,
        failures=oracle.failures,
        backoff_until=oracle.backoff_until,
        last_error=oracle.last_error,
        created_at=oracle.created_at,
    )
