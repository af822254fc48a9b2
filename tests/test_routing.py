"""Pre-body checks and the busiest routes cost as few worker-thread hops as they can."""

from __future__ import annotations

import threading
from typing import Any

import anyio
import anyio.to_thread
import pytest
from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.routing import on_threads
from tests.factories import auth, create_project, create_user


def test_plain_checks_next_to_each_other_run_on_one_worker_thread() -> None:
    seen: list[tuple[str, int]] = []

    def plain(name: str) -> Any:  # noqa: ANN401 - a check
        return lambda _request: seen.append((name, threading.get_ident()))

    async def on_the_loop(_request: Request) -> None:
        seen.append(("loop", threading.get_ident()))

    checks = on_threads([plain("token"), plain("role"), on_the_loop, plain("last")])
    assert len(checks) == 3

    async def run() -> None:
        for check in checks:
            await check(Request({"type": "http", "headers": []}))

    anyio.run(run)
    names = [name for name, _ in seen]
    threads = dict(seen)
    assert names == ["token", "role", "loop", "last"]
    assert threads["token"] == threads["role"] != threads["loop"]


def test_a_queue_answer_and_a_label_take_no_thread_hop_on_sqlite(
    settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each hop wakes a worker thread and waits for it and for the GIL: under 50 annotators
    # they were the requests' tail (bench/README.md, `load.py`). None is left on SQLite
    # while nothing else writes: the look-ups of the token and the project role and the
    # route's own transaction run on the loop (``app.deps.Writing``). Two on PostgreSQL,
    # where both are network round trips.
    expected = 0 if db.is_sqlite else 2
    project = create_project(db, labels=["a", "b"], n_items=5)
    _, token = create_user(db, name="ann", role="annotator")
    hops: list[str] = []
    run_sync = anyio.to_thread.run_sync

    async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
        hops.append(getattr(func, "__name__", repr(func)))
        return await run_sync(func, *args, **kwargs)

    with TestClient(create_app(settings, worker=False)) as client:
        monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
        url = f"/api/v1/projects/{project.id}"
        served = client.get(f"{url}/queue?limit=1", headers=auth(token))
        assert served.status_code == 200, served.text
        assert len(hops) == expected, hops
        hops.clear()
        item_id = served.json()["items"][0]["id"]
        label = {"item_id": item_id, "label": "a"}
        stored = client.post(f"{url}/annotations", json=label, headers=auth(token))
        assert stored.status_code == 201, stored.text
        assert stored.json()["labels"] == ["a"]
        assert len(hops) == expected, hops


def _solved_nodes(dependant: Dependant) -> int:
    """The dependency nodes FastAPI solves for ``dependant`` on every request: a
    sub-dependency's subtree is solved at each reference before its cache is looked in."""
    return sum(1 + _solved_nodes(sub) for sub in dependant.dependencies)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/projects/{project_id}/queue"),
        ("POST", "/api/v1/projects/{project_id}/annotations"),
    ],
)
def test_the_busiest_routes_solve_three_dependencies(
    settings: Settings, method: str, path: str
) -> None:
    # Each solved node costs the event loop its parameter parsing and cache-key work; the
    # caller, their rate limit and their project were nine nodes (bench/README.md, `load.py`).
    app = create_app(settings, worker=False)
    [context] = [
        c
        for c in iter_route_contexts(app.routes)  # included routers too
        if c.path == path and method in (c.methods or ())
    ]
    assert _solved_nodes(context.dependant) <= 3
