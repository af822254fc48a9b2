"""An oracle's API key is used (the local model's server requires it) and never shown: not in
any response, page, export, audit entry or log line of a whole run.

SQLite only: the model costs seconds a call, and the database side is tested on both
backends with ``tests/oracles/knowledge.py``."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.models import Suggestion
from app.oracles import prelabel
from tests.factories import auth, create_project, create_user
from tests.llm import KEY_ENV, LocalLLM
from tests.oracles.test_prelabel import allowed  # noqa: F401 - a fixture

__all__ = ["allowed"]


@pytest.fixture
def web(allowed: Settings, db: Database) -> Iterator[TestClient]:
    create_user(db, name="ada", role="admin", password="ada-password")
    with TestClient(create_app(allowed, worker=False), follow_redirects=False) as client:
        token = re.findall(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)[0]
        form = {"username": "ada", "password": "ada-password", "csrf_token": token}
        assert client.post("/login", data=form).status_code == 303
        yield client


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_key_is_used_and_never_shown(
    web: TestClient,
    db: Database,
    allowed: Settings,
    local_llm: LocalLLM,
    oracle_key: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    _, admin = create_user(db, name="bot", role="admin")
    project = create_project(db, n_items=6)
    base = f"/api/v1/projects/{project.id}"
    seen: list[str] = []

    def get(path: str, **kwargs: object) -> str:
        response = web.get(path, **kwargs)  # type: ignore[arg-type]
        assert response.status_code == 200, (path, response.status_code)
        seen.append(response.text + str(response.headers))
        return response.text

    config = {**local_llm.config().model_dump(mode="json"), "api_key_env": KEY_ENV}
    for name, url in (("llm", config["base_url"]), ("astray", config["base_url"] + "/nowhere")):
        body = {"name": name, "kind": "openai", "config": {**config, "base_url": url}}
        added = web.post(f"{base}/oracles", json=body, headers=auth(admin))
        assert added.status_code == 201, added.text
        seen.append(added.text)
    for _ in range(3):
        prelabel.step(db, allowed)
    with db.reader() as session:
        rows = session.scalars(select(Suggestion)).all()
        seen += [f"{s.labels} {s.error} {s.model}" for s in rows]
    assert any(s.labels for s in rows), "the key should have let the oracle answer"
    assert any(s.error for s in rows), "the astray oracle should have failed"
    api = {"headers": auth(admin)}
    for path in ("/oracles", "", "/queue?limit=3", "/export?format=jsonl", "/export?format=csv"):
        get(base + path, **api)
    for oracle_id in (1, 2):
        get(f"{base}/oracles/{oracle_id}/stats", **api)
    get("/api/v1/audit", **api)
    for page in ("", "/settings", "/annotate", "/oracles/panel"):
        get(f"/projects/{project.id}{page}")
    get("/audit")
    seen.append(caplog.text)
    assert all(oracle_key not in text for text in seen)
    assert len(oracle_key) >= 24
