"""Pre-labelling with the real local language model: budgets of calls and of tokens are never
exceeded, and a server stopped mid-run is recorded and backed off.

SQLite only: the model costs seconds a call, and the database side is tested on both
backends with ``tests/oracles/knowledge.py``."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.config import Settings
from app.db import Database
from app.models import Oracle, Project, Suggestion
from app.oracles import prelabel
from tests.factories import create_oracle, create_project
from tests.llm import KEY_ENV, LocalLLM
from tests.oracles.test_prelabel import allowed, drain  # noqa: F401 - a fixture

__all__ = ["allowed"]


def _oracle(db: Database, project: Project, llm: LocalLLM, **budget: int) -> int:
    config = llm.config(timeout_seconds=60.0).model_dump(mode="json") | {"api_key_env": KEY_ENV}
    return create_oracle(db, project.id, name="gemma", kind="openai", config=config, **budget)


def _rows(db: Database, oracle_id: int) -> tuple[Oracle, list[Suggestion]]:
    with db.reader() as session:
        found = session.scalars(select(Suggestion).where(Suggestion.oracle_id == oracle_id))
        return session.get_one(Oracle, oracle_id), list(found)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_budgets_of_calls_and_tokens_are_never_exceeded(
    db: Database, allowed: Settings, local_llm: LocalLLM, oracle_key: str
) -> None:
    project = create_project(db, n_items=20)
    calls = _oracle(db, project, local_llm, budget_calls=3)
    drain(db, allowed)
    oracle, found = _rows(db, calls)
    assert oracle.calls_used == 3 and len(found) == 3
    assert all(s.labels is not None and s.labels[0] in project.labels for s in found)
    with db.writer() as session, session.begin():
        session.get_one(Oracle, calls).enabled = False
    tokens = _oracle(db, project, local_llm, budget_tokens=1500)
    drain(db, allowed)
    oracle, found = _rows(db, tokens)
    spent = sum((s.prompt_tokens or 0) + (s.completion_tokens or 0) for s in found)
    assert found and spent <= oracle.tokens_used <= 1500
    assert not prelabel.step(db, allowed)  # what is left cannot pay for another call


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_server_stopped_mid_run_is_recorded_and_backed_off(
    db: Database, allowed: Settings, stoppable_llm: LocalLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, stoppable_llm.api_key)
    project = create_project(db, n_items=12)
    oracle_id = _oracle(db, project, stoppable_llm, budget_calls=4)
    assert prelabel.step(db, allowed)
    first, _ = _rows(db, oracle_id)
    assert first.backoff_until is None, first.last_error
    stoppable_llm.process.terminate()
    stoppable_llm.process.wait(timeout=30)
    with db.writer() as session, session.begin():
        session.get_one(Oracle, oracle_id).budget_calls = 8
    assert prelabel.step(db, allowed)
    oracle, found = _rows(db, oracle_id)
    kinds = [s.error_kind for s in sorted(found, key=lambda s: s.id)]
    assert kinds[:4] == [None] * 4 and set(kinds[4:]) == {"unreachable"}
    assert oracle.backoff_until is not None and oracle.failures == 1
    # A stopped server refuses the connection: those calls were never sent and cost nothing.
    assert oracle.calls_used == 4 and oracle.tokens_used > 0
