"""The data manager in Chromium: a manager searches and filters the items table, sets a final
label from a row, and deletes a selection (its buttons wait for a ticked row); each step is
checked through the JSON API."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from app.db import Database
from tests.factories import add_member, auth, create_project, create_user
from tests.web.conftest import save_shots
from tests.web.test_browser import _sign_in

pytestmark = [pytest.mark.browser, pytest.mark.process]


def _api_items(url: str, project_id: int, token: str, **params: object) -> list[dict]:
    response = httpx.get(
        f"{url}/api/v1/projects/{project_id}/items",
        params={"limit": 500, **params},
        headers=auth(token),
    )
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def _row_ids(page: Page) -> list[int]:
    rows = page.locator("[data-testid^=row-]")
    return [int((rows.nth(i).get_attribute("data-testid") or "")[4:]) for i in range(rows.count())]


def test_manager_filters_relabels_and_deletes_from_the_table(
    browser: Browser, live_server: str, web_db: Database, artifacts: Path
) -> None:
    boss, token = create_user(web_db, name="boss", role="annotator", password="boss-password")
    project = create_project(web_db, name="Topics", n_items=30, n_labeled=6, members={})
    add_member(web_db, project, boss, "manager")
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    _sign_in(page, live_server, "boss", "boss-password")
    page.goto(f"{live_server}/projects/{project.id}/items")
    expect(page.get_by_role("heading", name="Topics: items")).to_be_visible()

    # search and filter: "pasta" matches two texts, one of them imported as food
    filters = page.get_by_test_id("filters")
    filters.get_by_label("Search").fill("Pasta")
    filters.get_by_role("button", name="Filter").click()
    expect(page.locator("[data-testid^=row-]")).to_have_count(2)
    pasta = _row_ids(page)
    assert [i["id"] for i in _api_items(live_server, project.id, token, q="pasta")] == pasta
    filters.get_by_label("Status").select_option("unlabeled")
    filters.get_by_role("button", name="Filter").click()
    expect(page.locator("[data-testid^=row-]")).to_have_count(1)
    unlabelled = _row_ids(page)[0]

    # relabel that row: its final label is set, and the filters stay
    row = page.get_by_test_id(f"row-{unlabelled}")
    row.get_by_label(f"final label of item {unlabelled}").select_option("sports")
    row.get_by_role("button", name="Set").click()
    expect(page.get_by_test_id("notice")).to_have_text("Done: labelled 1 as sports.")
    expect(page.get_by_test_id("filters").get_by_label("Search")).to_have_value("Pasta")
    page.get_by_test_id("filters").get_by_label("Status").select_option("all")
    page.get_by_test_id("filters").get_by_role("button", name="Filter").click()
    expect(page.get_by_test_id(f"final-{unlabelled}")).to_contain_text("sports")
    save_shots(page, artifacts, "items-filtered")
    sports = _api_items(live_server, project.id, token, label="sports", q="pasta")
    assert [(i["id"], i["final_labels"], i["outcome"]) for i in sports] == [
        (unlabelled, ["sports"], "adjudicated")
    ]

    # select three unlabelled rows and delete them: the bulk buttons wait for a ticked row
    page.goto(f"{live_server}/projects/{project.id}/items?status=unlabeled")
    doomed = _row_ids(page)[:3]
    bulk = [page.get_by_test_id(f"bulk-{name}") for name in ("label", "review", "delete")]
    for button in bulk:
        expect(button).to_be_disabled()
    page.get_by_label(f"select item {doomed[0]}").check()
    for button in bulk:
        expect(button).to_be_enabled()
    page.get_by_label(f"select item {doomed[0]}").uncheck()
    expect(bulk[2]).to_be_disabled()
    for item_id in doomed:
        page.get_by_label(f"select item {item_id}").check()
    page.get_by_test_id("bulk-delete").click()
    expect(page.get_by_test_id("notice")).to_have_text("Done: deleted 3.")
    expect(page.locator("[data-testid^=row-]")).to_have_count(30 - 6 - 1 - 3)  # relabelled: out
    save_shots(page, artifacts, "items-after-delete")
    left = {i["id"] for i in _api_items(live_server, project.id, token)}
    assert len(left) == 27 and not left & set(doomed)
    assert unlabelled in left
