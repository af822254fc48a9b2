"""How the app answers when the database is out of reach, and the 401 challenge."""

from __future__ import annotations

import gc
import uuid
from pathlib import Path

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import api_router, create_app
from tests.conftest import _pg_url
from tests.server import free_port

UNREACHABLE = {
    "closed-port": f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/labelloop",
    # the real server refuses the connection: the database does not exist
    "missing-database": _pg_url(f"labelloop_missing_{uuid.uuid4().hex[:8]}"),
}
NEEDS_SERVER = {"missing-database"}  # the others fail before reaching a PostgreSQL server


@pytest.mark.parametrize(
    "url",
    [
        pytest.param(url, id=name, marks=[pytest.mark.postgres] if name in NEEDS_SERVER else [])
        for name, url in UNREACHABLE.items()
    ],
)
def test_an_unreachable_database_answers_503_with_retry_after(url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=url, data_dir=tmp_path / "data", embedded_worker=False)
    with TestClient(create_app(settings, worker=False), raise_server_exceptions=False) as client:
        got = client.get("/api/v1/projects", headers={"Authorization": "Bearer some-token"})
    assert got.status_code == 503, got.text
    assert got.headers["retry-after"] == "1"
    assert "database is unavailable" in got.json()["detail"]


def test_a_missing_token_is_challenged_with_the_bearer_scheme(client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        got = client.get("/api/v1/projects", headers=headers)
        assert got.status_code == 401
        assert got.headers["www-authenticate"] == "Bearer"


def test_a_server_freezes_its_startup_heap(settings: Settings) -> None:
    assert gc.get_freeze_count() == 0
    try:
        with TestClient(create_app(settings, worker=False, freeze_heap=True)):
            frozen = gc.get_freeze_count()
    finally:
        gc.unfreeze()
    assert frozen > 50_000  # numpy, scikit-learn, SQLAlchemy: a full collection skips them


def test_the_queue_and_label_routes_are_tried_first() -> None:
    # A request's route is found by trying the routes in order: a labelling crowd's
    # requests should not each try the project and item routes first.
    paths = [c.original_route.path for c in iter_route_contexts(api_router().routes)]
    assert paths[:3] == [
        "/projects/{project_id}/queue",
        "/projects/{project_id}/annotations",
        "/projects/{project_id}/annotations/bulk",
    ]
