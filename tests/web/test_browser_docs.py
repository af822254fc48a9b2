"""The interactive API docs in Chromium, under the site's strict CSP: nothing from a CDN,
no inline script, and the README's "open /docs, press Authorize" step works."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from app.db import Database
from tests.factories import create_project, create_user
from tests.web.conftest import save_shots

pytestmark = [pytest.mark.browser, pytest.mark.process]


def _watch(page: Page, url: str) -> tuple[list[str], list[str]]:
    """Console errors (a CSP refusal is one) and responses from anywhere but the server."""
    errors: list[str] = []
    foreign: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("response", lambda r: None if r.url.startswith(url) else foreign.append(r.url))
    return errors, foreign


def test_swagger_ui_authorizes_with_a_token_and_tries_a_get(
    browser: Browser, live_server: str, web_db: Database, artifacts: Path
) -> None:
    _, token = create_user(web_db, name="ada", role="admin")
    create_project(web_db, name="Topics")
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    errors, foreign = _watch(page, live_server)
    page.goto(f"{live_server}/docs")
    expect(page.get_by_role("heading", name="labelloop")).to_be_visible()
    save_shots(page, artifacts, "docs", full_page=False)

    page.locator(".auth-wrapper").get_by_role("button", name="Authorize").click()
    dialog = page.locator(".dialog-ux")
    dialog.get_by_label("auth-bearer-value").fill(token)
    dialog.get_by_role("button", name="Apply credentials").click()
    expect(dialog.get_by_role("button", name="Remove authorization")).to_be_visible()
    dialog.get_by_role("button", name="Close").click()
    operation = page.locator("#operations-projects-list_projects_api_v1_projects_get")
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    response = operation.locator(".live-responses-table .response .response-col_status")
    expect(response.first).to_have_text("200")
    expect(operation.locator(".live-responses-table .microlight").first).to_contain_text("Topics")
    assert errors == [], errors
    assert foreign == [], foreign


def test_redoc_renders_the_reference_under_the_csp(
    browser: Browser, live_server: str, artifacts: Path
) -> None:
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    errors, foreign = _watch(page, live_server)
    page.goto(f"{live_server}/redoc")
    expect(page.get_by_role("heading", name="labelloop").first).to_be_visible()
    expect(page.get_by_role("heading", name="List Projects")).to_be_visible()
    save_shots(page, artifacts, "redoc", full_page=False)
    # ReDoc's footer asks for its maker's logo from its CDN; the CSP refuses it (no request)
    logo = "Loading the image 'https://cdn.redoc.ly/redoc/logo-mini.svg' violates"
    assert [e for e in errors if not e.startswith(logo)] == [], errors
    assert foreign == [], foreign
