"""Shared fixtures: a freshly migrated database per test, on SQLite and on PostgreSQL.

Each backend is migrated once per session into a template (a SQLite file, a PostgreSQL
template database); every test gets its own copy, so tests can commit, run threads and
start server processes freely.
"""

from __future__ import annotations

import itertools
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

# Cheap argon2 parameters for the hundreds of sign-ins (`app.users.service._password_hasher`),
# set before the app is imported; server processes inherit it. `=0` keeps the real cost.
os.environ.setdefault("LABELLOOP_TEST_WEAK_PASSWORD_HASHES", "1")

from app.config import Settings
from app.db import Database, open_database
from app.main import create_app
from app.migrate import upgrade

POSTGRES_URL = os.environ.get(
    "LABELLOOP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
# The PostgreSQL case carries the `postgres` marker: `-m "not postgres"` keeps SQLite only.
# The local language model's fixtures (one server per session, for every directory).
pytest_plugins = ("tests.llm",)
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
# Fixtures that start `labelloop` processes: a test using one is marked `process`.
PROCESS_FIXTURES = frozenset({"live", "live_server"})
_counter = itertools.count()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that reach a server process through a fixture (see PROCESS_FIXTURES)."""
    for item in items:
        if PROCESS_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.process)


def _admin_engine():  # noqa: ANN202 - a short-lived AUTOCOMMIT engine on the server
    return create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")


def _postgres_available() -> bool:
    try:
        with _admin_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001
        return False


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    if not _postgres_available():
        if os.environ.get("LABELLOOP_TEST_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL is required but not reachable at {POSTGRES_URL}")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}")
    name = f"ll_template_{uuid.uuid4().hex[:8]}"
    engine = _admin_engine()
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    upgrade(_pg_url(name))
    yield name
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def _pg_url(database: str) -> str:
    return make_url(POSTGRES_URL).set(database=database).render_as_string(hide_password=False)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh, migrated database for this test."""
    with fresh_database(backend, request, tmp_path) as url:
        yield url


@contextmanager
def fresh_database(backend: str, request: pytest.FixtureRequest, directory: Path) -> Iterator[str]:
    """A fresh copy of the migrated template of ``backend`` (a file in ``directory`` for SQLite)."""
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = directory / "labelloop.db"
        shutil.copy(template, path)
        yield f"sqlite:///{path}"
        return
    template_name: str = request.getfixturevalue("postgres_template")
    name = f"ll_test_{os.getpid()}_{next(_counter)}"
    engine = _admin_engine()
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"'))
    try:
        yield _pg_url(name)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=db_url,
        data_dir=tmp_path / "data",
        worker_poll_seconds=0.05,
        worker_heartbeat_seconds=0.2,
        embedded_worker=False,
        cv_folds=3,
    )


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = open_database(settings.sqlalchemy_url)
    yield database
    database.dispose()


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """An in-process client; no embedded worker (tests drive training explicitly)."""
    with TestClient(create_app(settings, worker=False)) as test_client:
        yield test_client
