"""The settings page and the import list in Chromium: a label renamed, deleted and merged, an
import undone, the project renamed and deleted after its name is typed, each checked through
the API."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from app.db import Database
from tests.factories import auth, create_project, create_user
from tests.web.conftest import save_shots
from tests.web.test_browser import _sign_in

pytestmark = [pytest.mark.browser, pytest.mark.process]

LABELS = ["card", "transfer", "fees"]


def _import(url: str, project_id: int, token: str, name: str, rows: list[str]) -> None:
    body = "\n".join(["text,label", *rows]) + "\n"
    response = httpx.post(
        f"{url}/api/v1/projects/{project_id}/imports",
        files={"file": (name, io.BytesIO(body.encode()), "text/csv")},
        headers=auth(token),
    )
    assert response.status_code == 201, response.text


def _api(url: str, path: str, token: str) -> httpx.Response:
    return httpx.get(f"{url}/api/v1/projects/{path}", headers=auth(token))


def _labels_given(url: str, project_id: int, token: str) -> dict[str, int]:
    items = _api(url, f"{project_id}/items?limit=500", token).json()["items"]
    given: dict[str, int] = {}
    for item in items:
        for label in (item["latest"] or {}).get("labels", []):
            given[label] = given.get(label, 0) + 1
    return given


def _label_row(page: Page, label: str) -> Page:
    return page.locator(f'tr[data-label="{label}"]')  # type: ignore[return-value]


def _notice(page: Page, text: str) -> None:
    expect(page.get_by_test_id("notice")).to_contain_text(text)


def test_labels_imports_and_the_project_are_managed_from_the_screens(
    browser: Browser, live_server: str, web_db: Database, artifacts: Path
) -> None:
    token = create_user(web_db, name="ada", role="admin", password="ada-password")[1]
    project = create_project(web_db, name="Bank chat", labels=LABELS)
    seeded = [f"my card number {i} does not work,card" for i in range(6)]
    seeded += [f"send money to account {i},transfer" for i in range(4)]
    _import(live_server, project.id, token, "seed.csv", seeded)
    _import(live_server, project.id, token, "mistake.csv", [f"test row {i}," for i in range(7)])
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    _sign_in(page, live_server, "ada", "ada-password")
    _undo_the_mistaken_import(page, live_server, project.id, token, artifacts)
    _rename_add_delete_and_merge_labels(page, live_server, project.id, token, artifacts)
    _rename_then_delete_the_project(page, live_server, project.id, token, artifacts)
    page.close()


def _undo_the_mistaken_import(
    page: Page, live_server: str, project_id: int, token: str, artifacts: Path
) -> None:
    """The import list: undo the mistaken one after confirming."""
    page.goto(f"{live_server}/projects/{project_id}/import")
    imports = page.get_by_test_id("imports")
    expect(imports.locator("tbody tr")).to_have_count(2)
    save_shots(page, artifacts, "import-list")
    mistake = imports.locator("tr", has_text="mistake.csv")
    mistake.get_by_text("Undo", exact=True).click()
    save_shots(page, artifacts, "import-undo-confirm")
    mistake.get_by_role("button", name="Delete 7 items").click()
    _notice(page, "7 items deleted")
    expect(mistake.get_by_text("undone")).to_be_visible()
    expect(mistake.get_by_text("Undo", exact=True)).to_have_count(0)
    assert _api(live_server, str(project_id), token).json()["n_items"] == 10


def _rename_add_delete_and_merge_labels(
    page: Page, live_server: str, project_id: int, token: str, artifacts: Path
) -> None:
    """Labels: rename a used one, add and delete an unused one, merge a used one."""
    page.goto(f"{live_server}/projects/{project_id}/settings")
    save_shots(page, artifacts, "project-settings")
    row = _label_row(page, "card")
    row.get_by_label("New name for card").fill("card_problem")
    row.get_by_role("button", name="Rename card").click()
    _notice(page, "Label 'card' is now 'card_problem'; its annotations follow.")
    assert _labels_given(live_server, project_id, token) == {"card_problem": 6, "transfer": 4}
    page.get_by_label("New label").fill("refund")
    page.get_by_role("button", name="Add label").click()
    _notice(page, "Label 'refund' added.")
    _label_row(page, "refund").get_by_role("button", name="Delete refund").click()
    _notice(page, "Label 'refund' deleted.")
    transfer = _label_row(page, "transfer")
    transfer.get_by_label("Merge transfer into").select_option("card_problem")
    transfer.get_by_role("button", name="Merge transfer").click()
    _notice(page, "merged into 'card_problem'")
    assert _labels_given(live_server, project_id, token) == {"card_problem": 10}
    assert _api(live_server, str(project_id), token).json()["labels"] == ["card_problem", "fees"]


def _rename_then_delete_the_project(
    page: Page, live_server: str, project_id: int, token: str, artifacts: Path
) -> None:
    """The project (on the settings page): renamed, then deleted once its name is typed exactly."""
    page.get_by_label("Project name").fill("Bank chat 2026")
    page.get_by_role("button", name="Rename", exact=True).click()
    _notice(page, "now called 'Bank chat 2026'")
    assert _api(live_server, str(project_id), token).json()["name"] == "Bank chat 2026"
    delete = page.get_by_role("button", name="Delete this project")
    confirm = page.get_by_label("Type Bank chat 2026 to confirm")
    confirm.fill("Bank chat")
    expect(delete).to_be_disabled()
    confirm.fill("Bank chat 2026")
    expect(delete).to_be_enabled()
    confirm.scroll_into_view_if_needed()
    save_shots(page, artifacts, "project-settings-danger", full_page=False)
    delete.click()
    expect(page.get_by_role("heading", name="Projects")).to_be_visible()
    _notice(page, "Project 'Bank chat 2026' was deleted")
    assert _api(live_server, str(project_id), token).status_code == 404
