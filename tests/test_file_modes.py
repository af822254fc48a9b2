"""Everything the real commands write under the data dir is the owner's alone: the SQLite
database, the session secret, browser uploads and model files (0600 files, 0700 dirs)."""

from __future__ import annotations

import csv
import io
import re
import stat
import time
from pathlib import Path

import httpx
import pytest

from tests.factories import TOPICS, topic_texts
from tests.server import labelloop, serve, server_env


def _loose(data: Path) -> list[str]:
    """Paths under ``data`` (itself included) that group or others may use."""
    paths = [data, *data.rglob("*")]
    return [f"{p} {stat.filemode(p.stat().st_mode)}" for p in paths if p.stat().st_mode & 0o077]


def _csv(rows: list[tuple[str, str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows([("text", "label"), *rows])
    return out.getvalue().encode()


def _train(api: httpx.Client) -> int:
    """A project with labelled items, trained once; returns its id."""
    body = {"name": "modes", "labels": list(TOPICS), "features": "tfidf", "warm_up": 0}
    pid = api.post("/api/v1/projects", json=body).json()["id"]
    imported = api.post(
        f"/api/v1/projects/{pid}/imports",
        files={"file": ("items.csv", _csv(topic_texts(60)), "text/csv")},
        data={"label_field": "label"},
    )
    assert imported.status_code == 201, imported.text
    assert api.post(f"/api/v1/projects/{pid}/train").status_code == 202
    deadline = time.monotonic() + 120
    while api.get(f"/api/v1/projects/{pid}/model").json()["version"] is None:
        assert time.monotonic() < deadline, "no model was published"
        time.sleep(0.1)  # poll interval while the embedded worker trains
    return pid


def _upload_for_preview(url: str, pid: int) -> None:
    """Sign in as the browser does and upload a file to the import preview."""
    with httpx.Client(base_url=url, follow_redirects=False) as web:
        token = re.search(r'name="csrf_token" value="([^"]+)"', web.get("/login").text)
        assert token
        form = {"username": "ada", "password": "ada-password", "csrf_token": token.group(1)}
        assert web.post("/login", data=form).status_code == 303
        page = web.get(f"/projects/{pid}/import").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token
        preview = web.post(
            f"/projects/{pid}/import/preview",
            files={"file": ("kept.csv", _csv(topic_texts(5)), "text/csv")},
            headers={"X-CSRF-Token": token.group(1)},
        )
        assert preview.status_code == 200, preview.text


@pytest.mark.process
def test_the_data_dir_is_private_from_migrate_to_training(tmp_path: Path) -> None:
    data = tmp_path / "data"
    url = f"sqlite:///{data / 'labelloop.db'}"
    env = server_env(url, data, LABELLOOP_CV_FOLDS="3")
    migrated = labelloop("migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    assert (data / "labelloop.db").is_file()
    assert _loose(data) == []
    added = labelloop(
        "user", "add", "ada", "--role", "admin", "--password", "ada-password", env=env
    )
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip().splitlines()[-1]
    with (
        serve(url, data, LABELLOOP_CV_FOLDS="3") as base,
        httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as api,
    ):
        pid = _train(api)
        _upload_for_preview(base, pid)
        assert any((data / "projects" / str(pid)).rglob("*.joblib"))
        assert len(list((data / "uploads").iterdir())) == 1
        assert (data / "secret_key").is_file()
        assert _loose(data) == []
