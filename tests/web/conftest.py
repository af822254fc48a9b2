"""Web-test fixtures: an admin signed in through the TestClient; for the browser tests, a real
server on SQLite and Debian's Chromium through Playwright."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from app.config import Settings
from app.db import Database, open_database
from app.main import create_app
from tests.factories import create_user
from tests.server import ROOT, serve

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def csrf_of(client: TestClient, path: str) -> str:
    """The CSRF token in the form of the page at ``path``."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert match, "the page should carry a CSRF token"
    return match.group(1)


@pytest.fixture
def admin_web(settings: Settings, db: Database) -> Iterator[TestClient]:
    """The app with the admin ada signed in, sending her CSRF token on every request."""
    create_user(db, name="ada", role="admin", password="ada-password")
    with TestClient(create_app(settings, worker=False), follow_redirects=False) as client:
        form = {"username": "ada", "password": "ada-password"}
        response = client.post("/login", data={**form, "csrf_token": csrf_of(client, "/login")})
        assert response.status_code == 303
        client.headers["X-CSRF-Token"] = csrf_of(client, "/")
        yield client


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "labelloop.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def web_db(sqlite_url: str) -> Iterator[Database]:
    database = open_database(sqlite_url)
    yield database
    database.dispose()


@pytest.fixture
def live_server(sqlite_url: str, tmp_path: Path) -> Iterator[str]:
    """A `labelloop serve` process (embedded worker) on a fresh SQLite database."""
    with serve(sqlite_url, tmp_path / "data", LABELLOOP_CV_FOLDS="3") as url:
        yield url


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


SIZES = ((1280, 800), (390, 844))  # a laptop and a phone


def save_shots(page: Page, artifacts: Path, name: str, *, full_page: bool = True) -> None:
    """Screenshots of ``page`` at every size in ``SIZES`` as ``<name>-<w>x<h>.png``; the page
    is left at the first size."""
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=artifacts / f"{name}-{width}x{height}.png", full_page=full_page)
    page.set_viewport_size({"width": SIZES[0][0], "height": SIZES[0][1]})


def sign_in(page: Page, url: str, name: str) -> None:
    """Sign in as ``name`` (password ``<name>-password``) and wait for the projects page."""
    page.goto(f"{url}/login")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(f"{name}-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Projects")).to_be_visible()
