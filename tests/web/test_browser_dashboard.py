"""The dashboard and the forms around it in Chromium: an empty project points to Import, a lone
model's point is readable, the settings are aligned and explained, error pages keep the
navigation, a refused new project keeps what was typed, and choosing its task fills in the
task's default labels."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from app.db import Database
from app.models import ModelVersion
from app.training import service as training
from tests.factories import create_project, create_user
from tests.web.conftest import save_shots

pytestmark = [pytest.mark.browser, pytest.mark.process]


def _admin_page(browser: Browser, url: str, db: Database) -> Page:
    create_user(db, name="ada", role="admin", password="ada-password")
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.goto(f"{url}/login")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill("ada-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Projects")).to_be_visible()
    return page


def _train_once(db: Database, project_id: int, timeout: float = 90) -> None:
    """Queue a run and wait for the server's own worker to publish its model."""
    with db.writer() as session, session.begin():
        training.queue_run(session, project_id, reason="manual")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.reader() as session:
            query = select(ModelVersion.id).where(ModelVersion.project_id == project_id)
            if session.scalar(query.where(ModelVersion.metrics.is_not(None))) is not None:
                return
        time.sleep(0.2)  # polling the worker's result
    raise AssertionError("the server's worker published no model")


def test_an_empty_project_points_to_import(
    browser: Browser, live_server: str, web_db: Database, artifacts: Path
) -> None:
    page = _admin_page(browser, live_server, web_db)
    project = create_project(web_db, name="Fresh")
    page.goto(f"{live_server}/projects/{project.id}")
    empty = page.get_by_test_id("empty-project")
    expect(empty).to_contain_text("No items yet")
    save_shots(page, artifacts, "dashboard-empty")
    empty.get_by_role("link", name="Import a file").click()
    expect(page.get_by_role("heading", name="1. Upload a file")).to_be_visible()


def test_one_model_is_a_centred_point_with_a_line_of_text(
    browser: Browser, live_server: str, web_db: Database, artifacts: Path
) -> None:
    page = _admin_page(browser, live_server, web_db)
    project = create_project(web_db, name="Topics", n_items=60, n_labeled=30)
    _train_once(web_db, project.id)
    page.goto(f"{live_server}/projects/{project.id}")
    expect(page.get_by_test_id("curve-note")).to_contain_text("One model so far")
    chart = page.locator("svg.chart").bounding_box()
    dot = page.locator("svg.chart circle.dot").first.bounding_box()
    assert chart and dot
    centre = (dot["x"] + dot["width"] / 2 - chart["x"]) / chart["width"]
    assert 0.4 < centre < 0.65, centre  # not on the right edge
    expect(page.get_by_test_id("empty-project")).to_have_count(0)
    page.locator("#curve-h").scroll_into_view_if_needed()
    save_shots(page, artifacts, "dashboard-one-model")


def test_settings_are_aligned_explained_and_committee_size_only_for_qbc(
    browser: Browser, live_server: str, web_db: Database, artifacts: Path
) -> None:
    page = _admin_page(browser, live_server, web_db)
    project = create_project(web_db, name="Topics", warm_up=20)
    page.goto(f"{live_server}/projects/{project.id}")
    settings = page.locator("#settings")
    expect(settings.get_by_label("Warm-up labels per class")).to_have_value("20")
    committee = settings.get_by_label("Committee size")
    expect(committee).to_be_hidden()
    fields = settings.locator(".field")
    for i in range(fields.count()):
        if fields.nth(i).is_visible():
            expect(fields.nth(i).locator(".hint")).to_be_visible()
    # the controls of one row start at one height, each under its own label
    tops = {
        round(box["y"])
        for box in (settings.locator(f"#{n}").bounding_box() for n in ("set-strategy", "set-batch"))
        if box
    }
    assert len(tops) == 1, tops
    settings.locator("#settings-h").scroll_into_view_if_needed()
    save_shots(page, artifacts, "settings")
    settings.get_by_label("Query strategy").select_option("qbc_vote_entropy")
    expect(committee).to_be_visible()
    settings.get_by_role("button", name="Save").click()
    expect(settings.get_by_role("status")).to_have_text("Saved.")
    expect(page.locator("#settings").get_by_label("Committee size")).to_be_visible()


def test_the_not_found_page_keeps_the_navigation(
    browser: Browser, live_server: str, web_db: Database, artifacts: Path
) -> None:
    page = _admin_page(browser, live_server, web_db)
    page.goto(f"{live_server}/projects/999")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Projects")).to_be_visible()
    expect(nav.get_by_role("button", name="Sign out")).to_be_visible()
    save_shots(page, artifacts, "not-found")


def test_a_refused_new_project_keeps_what_was_typed(
    browser: Browser, live_server: str, web_db: Database, artifacts: Path
) -> None:
    page = _admin_page(browser, live_server, web_db)
    create_project(web_db, name="Intents")
    labels = "\n".join(f"intent_{i}" for i in range(77))
    page.goto(f"{live_server}/projects/new")
    page.get_by_label("Name").fill("Intents")
    page.get_by_role("textbox", name="Labels").fill(labels)
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("alert")).to_have_text(
        "A project named 'Intents' already exists; choose another name"
    )
    expect(page.get_by_role("textbox", name="Labels")).to_have_value(labels)
    save_shots(page, artifacts, "new-project-taken-name")
    page.get_by_role("textbox", name="Labels").fill("ham\nHam")
    page.get_by_label("Name").fill("Mail")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("alert")).to_contain_text("'ham' and 'Ham' differ only in case")


def test_choosing_a_task_puts_its_default_labels_in_the_new_project_form(
    browser: Browser, live_server: str, web_db: Database, artifacts: Path
) -> None:
    page = _admin_page(browser, live_server, web_db)
    page.goto(f"{live_server}/projects/new")
    labels = page.get_by_role("textbox", name="Labels")
    fields = page.get_by_role("textbox", name="Fields")
    expect(page.get_by_label("Layout")).to_be_hidden()
    fields.fill("question, answer")
    expect(page.get_by_label("Layout")).to_be_visible()
    save_shots(page, artifacts, "new-project-fields")
    page.get_by_role("radio", name="Translation review").check()
    expect(labels).to_have_value("ok\nmistranslation\nomission\naddition\ngrammar\nterminology")
    expect(fields).to_be_hidden()
    page.get_by_role("radio", name="Sentence selection").check()
    expect(labels).to_have_value("include\nexclude")
    save_shots(page, artifacts, "new-project-task")
    page.get_by_role("radio", name="Classification").check()
    expect(labels).to_have_value("")
    labels.fill("keep\ndrop")
    page.get_by_role("radio", name="Sentence selection").check()
    expect(labels).to_have_value("keep\ndrop")  # labels of one's own stay
    page.get_by_label("Name").fill("Summaries")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", name="1. Upload a file")).to_be_visible()
