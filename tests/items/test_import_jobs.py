"""Background import jobs over real multipart uploads: 202 and a job to poll, progress while it
runs, all or nothing, the queue answering meanwhile, and recovery from a killed server."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.config import Settings
from app.db import Database
from app.items import jobs
from app.main import create_app
from app.models import Item, Project, TrainingRun
from tests.factories import auth, create_project, create_user
from tests.security.conftest import sign_in
from tests.server import free_port, running, server_env, wait_until_up

ROWS = 12_000  # more than two chunks of service.CHUNK_ROWS
JOB_TIMEOUT = 60


def _csv(n: int, *, bad_row: int | None = None, repeats: int = 0) -> bytes:
    """``n`` distinct rows (every 10th labelled), then ``repeats`` copies of the first rows."""
    lines = ["id,text,label"]
    for i in range(1, n + 1):
        label = "music" if i == bad_row else ("food" if i % 10 == 0 else "")
        lines.append(f"r{i},row {i} of a large upload about the weather and food,{label}")
    lines += [
        f",row {i} of a large upload about the weather and food," for i in range(1, repeats + 1)
    ]
    return ("\n".join(lines) + "\n").encode()


def _post(client: TestClient | httpx.Client, pid: int, token: str, data: bytes) -> httpx.Response:
    return client.post(
        f"/api/v1/projects/{pid}/imports",
        params={"background": "true"},
        files={"file": ("big.csv", data, "text/csv")},
        headers=auth(token),
    )


def _wait(
    client: TestClient | httpx.Client,
    url: str,
    token: str,
    until: Callable[[dict[str, Any]], bool],
) -> dict[str, Any]:
    """Poll the job at ``url`` until ``until`` holds; fail after JOB_TIMEOUT seconds."""
    deadline = time.monotonic() + JOB_TIMEOUT
    while True:
        job = client.get(url, headers=auth(token)).json()
        if until(job):
            return job
        assert time.monotonic() < deadline, f"job never reached the condition: {job}"
        time.sleep(0.05)  # polling interval, not synchronisation


def _finished(job: dict[str, Any]) -> bool:
    return job["status"] in ("succeeded", "failed")


def _items(db: Database, project_id: int) -> int:
    with db.reader() as session:
        stmt = select(func.count()).select_from(Item).where(Item.project_id == project_id)
        return session.scalar(stmt) or 0


@pytest.fixture
def admin(db: Database) -> str:
    return create_user(db)[1]


def test_large_upload_returns_202_and_the_job_imports_it(
    client: TestClient, db: Database, admin: str
) -> None:
    project = create_project(db)
    response = _post(client, project.id, admin, _csv(ROWS, repeats=30))
    assert response.status_code == 202, response.text
    created = response.json()
    assert created["status"] in ("queued", "running") and created["filename"] == "big.csv"
    url = response.headers["Location"]
    assert url == f"/api/v1/projects/{project.id}/imports/{created['id']}"
    job = _wait(client, url, admin, _finished)
    assert job["status"] == "succeeded", job
    assert (job["imported"], job["duplicates"], job["labeled"]) == (ROWS, 30, ROWS // 10)
    assert job["rows_done"] == ROWS + 30 and job["bytes_done"] == job["bytes_total"]
    assert _items(db, project.id) == ROWS
    with db.reader() as session:
        stored = session.get_one(Project, project.id)
        assert (stored.pool_version, stored.label_events) == (1, ROWS // 10)
        runs = session.scalars(select(TrainingRun).where(TrainingRun.project_id == project.id))
        assert [run.reason for run in runs] == ["import"]
    counts = client.get(f"/api/v1/projects/{project.id}", headers=auth(admin)).json()
    assert (counts["n_items"], counts["n_labeled"]) == (ROWS, ROWS // 10)


@pytest.fixture
def paused(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[threading.Event, threading.Event]]:
    """Hold every job right after its first progress write until ``release`` is set."""
    reached, release = threading.Event(), threading.Event()
    original = jobs._progress

    def hold(*args: Any, **kwargs: Any) -> None:
        original(*args, **kwargs)
        reached.set()
        assert release.wait(JOB_TIMEOUT), "the test never released the job"

    monkeypatch.setattr(jobs, "_progress", hold)
    yield reached, release
    release.set()


def test_progress_shows_while_the_queue_and_labels_keep_working(
    client: TestClient,
    db: Database,
    admin: str,
    paused: tuple[threading.Event, threading.Event],
) -> None:
    reached, release = paused
    busy = create_project(db, name="busy", n_items=20)
    project = create_project(db, name="target")
    response = _post(client, project.id, admin, _csv(ROWS))
    assert response.status_code == 202
    assert reached.wait(JOB_TIMEOUT)
    url = response.headers["Location"]
    job = client.get(url, headers=auth(admin)).json()
    assert job["status"] == "running"
    assert 0 < job["rows_done"] < ROWS and 0 < job["bytes_done"] < job["bytes_total"]
    # Mid-import: annotators are served and their labels stored; the staged rows are invisible.
    queue = client.get(f"/api/v1/projects/{busy.id}/queue?limit=2", headers=auth(admin))
    assert queue.status_code == 200 and len(queue.json()["items"]) == 2
    item_id = queue.json()["items"][0]["id"]
    label = client.post(
        f"/api/v1/projects/{busy.id}/annotations",
        json={"item_id": item_id, "label": "food"},
        headers=auth(admin),
    )
    assert label.status_code == 201
    target = client.get(f"/api/v1/projects/{project.id}/queue", headers=auth(admin)).json()
    assert target["items"] == [] and _items(db, project.id) == 0
    release.set()
    job = _wait(client, url, admin, _finished)
    assert job["status"] == "succeeded" and job["imported"] == ROWS
    assert _items(db, project.id) == ROWS


def test_bad_row_deep_in_the_file_fails_the_job_and_writes_nothing(
    client: TestClient, db: Database, settings: Settings, admin: str
) -> None:
    project = create_project(db, n_items=5)
    response = _post(client, project.id, admin, _csv(ROWS, bad_row=ROWS - 500))
    assert response.status_code == 202
    job = _wait(client, response.headers["Location"], admin, _finished)
    assert job["status"] == "failed"
    assert f"row {ROWS - 500}" in job["error"] and "unknown label 'music'" in job["error"]
    assert job["imported"] is None and _items(db, project.id) == 5
    assert not list((settings.data_dir / "imports").iterdir())


def test_head_problems_are_refused_before_a_job_starts(
    client: TestClient, db: Database, settings: Settings, admin: str
) -> None:
    project = create_project(db)
    response = _post(client, project.id, admin, b"id,body\n1,hello\n")
    assert response.status_code == 422 and 'missing column "text"' in response.json()["detail"]
    assert not list((settings.data_dir / "imports").iterdir())


FIRST_ROW_PROBLEMS = [
    ("unknown label", b"text,label\nhello,maybe\n", "row 1 (line 2): unknown label 'maybe'"),
    ("id taken", b"id,text\n\nt1,hello\n", "row 1 (line 3): id 't1' already exists"),
]


@pytest.mark.parametrize(
    ("case", "data", "message"), FIRST_ROW_PROBLEMS, ids=[c[0] for c in FIRST_ROW_PROBLEMS]
)
def test_a_bad_first_row_is_refused_before_a_job_starts(
    client: TestClient,
    db: Database,
    settings: Settings,
    admin: str,
    case: str,
    data: bytes,
    message: str,
) -> None:
    project = create_project(db, n_items=2)
    response = _post(client, project.id, admin, data)
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith(message)
    jobs_url = f"/api/v1/projects/{project.id}/imports"
    assert client.get(jobs_url, headers=auth(admin)).json() == []
    assert _items(db, project.id) == 2
    assert not list((settings.data_dir / "imports").iterdir())


def test_unknown_job_is_404(client: TestClient, db: Database, admin: str) -> None:
    project = create_project(db)
    response = client.get(f"/api/v1/projects/{project.id}/imports/99", headers=auth(admin))
    assert response.status_code == 404


def test_web_import_of_a_large_file_polls_its_progress(settings: Settings, db: Database) -> None:
    small = settings.model_copy(update={"import_background_bytes": 1000})
    project = create_project(db)
    with TestClient(create_app(small, worker=False)) as client:
        _web_import(client, db, project.id)


def _web_import(client: TestClient, db: Database, project_id: int) -> None:
    token = sign_in(client, db)
    headers = {"X-CSRF-Token": token, "HX-Request": "true"}
    preview = client.post(
        f"/projects/{project_id}/import/preview",
        files={"file": ("big.csv", _csv(ROWS), "text/csv")},
        headers=headers,
    )
    upload_id = preview.text.split('name="upload_id" value="')[1].split('"')[0]
    started = client.post(
        f"/projects/{project_id}/import",
        data={"upload_id": upload_id, "text_field": "text", "label_field": "label"},
        headers=headers,
    )
    assert started.status_code == 200 and 'data-testid="import-job"' in started.text
    poll = started.text.split('hx-get="')[1].split('"')[0]
    assert poll.startswith(f"/projects/{project_id}/import/jobs/")
    deadline = time.monotonic() + JOB_TIMEOUT
    while 'data-testid="import-job"' in (page := client.get(poll, headers=headers)).text:
        assert time.monotonic() < deadline
        time.sleep(0.05)  # polling interval, as the page's hx-trigger does
    assert "Imported" in page.text and f'data-testid="imported">{ROWS}<' in page.text


@pytest.mark.process
def test_killed_server_leaves_a_failed_job_and_no_rows(
    db: Database, db_url: str, tmp_path: Path
) -> None:
    """SIGKILL mid-import; the restarted server marks the job failed; nothing was imported."""
    admin = create_user(db)[1]
    project = create_project(db, n_items=5)
    data_dir = tmp_path / "serve-data"
    data_dir.mkdir()
    env = server_env(db_url, data_dir, LABELLOOP_WORKER_STALE_SECONDS="1")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = ("serve", "--port", str(port), "--no-worker", "--log-level", "warning")
    with running(*args, env=env, log=tmp_path / "first.log") as proc:
        wait_until_up(url, proc, tmp_path / "first.log")
        with httpx.Client(base_url=url, timeout=60) as api:
            response = _post(api, project.id, admin, _csv(200_000))
            assert response.status_code == 202, response.text
            job_url = response.headers["Location"]
            _wait(api, job_url, admin, lambda job: job["rows_done"] > 0)
        proc.kill()
        proc.wait()
    with running(*args, env=env, log=tmp_path / "second.log") as proc:
        wait_until_up(url, proc, tmp_path / "second.log")
        with httpx.Client(base_url=url, timeout=60) as api:
            job = _wait(api, job_url, admin, _finished)
    assert job["status"] == "failed" and "stopped answering" in job["error"]
    assert _items(db, project.id) == 5
    assert not list((data_dir / "imports").iterdir())


def test_a_sweep_that_finds_nothing_stale_takes_no_write_lock(
    db: Database, settings: Settings
) -> None:
    # A web process sweeps every few seconds; a write transaction each time took SQLite's lock
    # from the labels (and a label arriving then left the event loop for a worker thread).
    if not db.is_sqlite:
        pytest.skip("SQLite's write lock")
    holder = sqlite3.connect(db.engine.url.database or "", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    found: list[list[int]] = []
    sweep = threading.Thread(
        target=lambda: found.append(jobs.fail_stale(db, settings, stale_seconds=60)),
        daemon=True,
    )
    try:
        sweep.start()
        sweep.join(timeout=5)
        assert found == [[]], "the sweep waited for the write lock"
    finally:
        holder.rollback()
        holder.close()
        sweep.join(timeout=60)
