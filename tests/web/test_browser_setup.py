"""Running the setup again (`make run` runs `labelloop demo` each time) in Chromium: the admin
stays signed in, the password still signs in, and the API token still answers."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.server import labelloop, server_env

pytestmark = [pytest.mark.browser, pytest.mark.process]


def test_running_the_setup_again_keeps_the_admin_signed_in(
    browser: Browser, live_server: str, sqlite_url: str, tmp_path: Path
) -> None:
    env = server_env(sqlite_url, tmp_path / "data")
    first = labelloop("demo", env=env)
    assert first.returncode == 0, first.stderr
    found = re.search(r"with password (\S+)", first.stdout)
    assert found, first.stdout
    password, token = found.group(1), first.stdout.strip().splitlines()[-1]
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.goto(f"{live_server}/login")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Projects")).to_be_visible()

    again = labelloop("demo", env=env)
    assert again.returncode == 0 and "unchanged" in again.stdout, again.stdout

    page.reload()  # the session made before the second run still holds
    expect(page.get_by_role("heading", name="Projects")).to_be_visible()
    assert "/login" not in page.url
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Projects")).to_be_visible()
    api = httpx.get(f"{live_server}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 200 and api.json()["name"] == "admin"
