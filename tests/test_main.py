"""How the app answers when the database is out of reach, and the 401 challenge."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import Database
from app.main import api_router, create_app
from tests.conftest import _pg_url
from tests.factories import create_project, create_user, queue_and_work
from tests.server import ROOT, free_port

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
    assert frozen > 50_000  # numpy, SQLAlchemy, FastAPI: a full collection skips them


def test_the_queue_and_label_routes_are_tried_first() -> None:
    # A request's route is found by trying the routes in order: a labelling crowd's
    # requests should not each try the project and item routes first.
    paths = [c.original_route.path for c in iter_route_contexts(api_router().routes)]
    assert paths[:3] == [
        "/projects/{project_id}/queue",
        "/projects/{project_id}/annotations",
        "/projects/{project_id}/annotations/bulk",
    ]


LEARNING_STACK = ("sklearn", "scipy", "pandas", "onnxruntime", "tokenizers")
# A web process without a trainer, in a fresh interpreter: it answers the model's status, the
# queue and a label, then a prediction (the one route that needs the model's libraries).
WEB_PROCESS = """
import json, sys
from fastapi.testclient import TestClient
from app.config import Settings
from app.main import create_app

settings = Settings(database_url=sys.argv[1], data_dir=sys.argv[2], embedded_worker=False)
project, headers, stack = sys.argv[3], {"Authorization": "Bearer " + sys.argv[4]}, sys.argv[5:]
loaded = lambda: [m for m in stack if m in sys.modules]
with TestClient(create_app(settings, worker=False)) as client:
    base = f"/api/v1/projects/{project}"
    assert client.get(base + "/model", headers=headers).json()["version"] == 1
    item = client.get(base + "/queue?limit=1", headers=headers).json()["items"][0]
    label = {"item_id": item["id"], "labels": ["sports"]}
    assert client.post(base + "/annotations", json=label, headers=headers).status_code == 201
    served = loaded()
    got = client.post(base + "/predict", json={"texts": ["a goal"]}, headers=headers)
    assert got.status_code == 200, got.text
print(json.dumps({"served": served, "predicted": loaded()}))
"""


def test_a_web_process_without_a_trainer_loads_the_learning_stack_only_to_predict(
    db: Database, settings: Settings
) -> None:
    # scikit-learn, SciPy and pandas cost a web process ~80 MB and ~2 s at its start; only the
    # trainer and the predict route use them.
    project = create_project(db, n_items=30, n_labeled=9)
    _, token = create_user(db)
    assert queue_and_work(db, settings, project).status == "succeeded"
    args = [settings.sqlalchemy_url, str(settings.data_dir), str(project.id), token]
    done = subprocess.run(
        [sys.executable, "-c", WEB_PROCESS, *args, *LEARNING_STACK],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["served"] == []
    assert "sklearn" in found["predicted"]
