"""Helpers for the security battery: tokens, a signed-in browser client, database snapshots,
one real server per database shared by the tests that need a socket, and the world of the
authorisation tests (one app per database).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.config import Settings
from app.db import Database, open_database
from app.main import create_app
from app.models import Annotation, Item, Project
from tests.conftest import BACKENDS, fresh_database
from tests.factories import create_user
from tests.security.authz_world import World, populate
from tests.server import serve

UPLOAD_LIMIT = 1024 * 1024  # the live server's LABELLOOP_MAX_UPLOAD_BYTES
_names = itertools.count()


@dataclass(frozen=True)
class Snapshot:
    """What an upload may change: rows and the per-project counters."""

    items: int
    annotations: int
    label_events: int
    pool_version: int


def snapshot(db: Database) -> Snapshot:
    with db.reader() as session:
        return Snapshot(
            items=session.scalar(select(func.count()).select_from(Item)) or 0,
            annotations=session.scalar(select(func.count()).select_from(Annotation)) or 0,
            label_events=session.scalar(select(func.sum(Project.label_events))) or 0,
            pool_version=session.scalar(select(func.sum(Project.pool_version))) or 0,
        )


def csrf(client: TestClient, path: str = "/login") -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert match, f"{path} should carry a CSRF token"
    return match.group(1)


def sign_in(client: TestClient, db: Database, name: str = "ada", role: str = "admin") -> str:
    """Create ``name`` with a password (a member of every project, as ``create_user``
    makes them), sign in; returns the session's CSRF token."""
    create_user(db, name=name, role=role, password=f"{name}-password")
    response = client.post(
        "/login",
        data={"username": name, "password": f"{name}-password", "csrf_token": csrf(client)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return csrf(client, "/")


@pytest.fixture
def admin(db: Database) -> str:
    """An admin's API token."""
    return create_user(db)[1]


@dataclass(frozen=True)
class Live:
    """A ``labelloop serve --no-worker`` process, its database and settings, and its log."""

    url: str
    db: Database
    settings: Settings
    log: Path

    @property
    def tmp(self) -> Path:
        """The server's temporary directory (uploads spool there)."""
        return self.settings.data_dir.parent / "tmp"

    def user(self, role: str = "admin") -> str:
        """A new user with a name of its own; returns its API token."""
        return create_user(self.db, name=f"{role}-{next(_names)}", role=role)[1]


@pytest.fixture(scope="package", params=BACKENDS)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    """One server per database for the whole battery (a start costs seconds); tests that use
    it make their own projects and users, and compare counts they own."""
    directory = tmp_path_factory.mktemp(f"live-{request.param}")
    with fresh_database(request.param, request, directory) as url:
        settings = Settings(database_url=url, data_dir=directory / "data", cv_folds=3)
        db = open_database(url)
        try:
            (directory / "tmp").mkdir()
            with serve(
                url,
                settings.data_dir,
                "--no-worker",
                LABELLOOP_MAX_UPLOAD_BYTES=str(UPLOAD_LIMIT),
                TMPDIR=str(directory / "tmp"),  # where uploads spool: tests look inside
            ) as base:
                (log,) = directory.glob("serve-*.log")
                yield Live(url=base, db=db, settings=settings, log=log)
        finally:
            db.dispose()


@pytest.fixture(scope="package", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """The authorisation tests' world (``test_authorization*.py``), built once per backend (the
    function-scoped ``client`` and ``db`` fixtures would rebuild it for each of the ~150 cases);
    the cases' writes never touch what another case relies on."""
    directory = tmp_path_factory.mktemp(f"authz-{request.param}")
    with fresh_database(request.param, request, directory) as url:
        settings = Settings(
            database_url=url, data_dir=directory / "data", embedded_worker=False, cv_folds=3
        )
        db = open_database(url)
        try:
            app = create_app(settings, worker=False)
            with TestClient(app, follow_redirects=False) as client:
                yield populate(client, db, settings)
        finally:
            db.dispose()
