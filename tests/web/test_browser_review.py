"""The Teams acceptance test in Chromium: an annotator flags an item as unsure, two annotators
disagree on another, a reviewer resolves both on the review screen, and the items' final
labels and the dashboard's agreement panel change."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from app.audit.service import CLI
from app.db import Database
from app.models import Annotation, Item, Project
from app.projects.schemas import ProjectUpdate
from app.projects.service import update_project
from tests.factories import add_member, auth, create_project, create_user
from tests.web.test_browser import _sign_in

pytestmark = [pytest.mark.browser, pytest.mark.process]

KEYS = {"sports": "1", "weather": "2", "food": "3"}  # the factory's labels, in order


def _team(db: Database) -> tuple[int, dict[str, str]]:
    """A project of 6 items with overlap 2: annotators ann1 and ann2, reviewer rev."""
    users, tokens = {}, {}
    for name in ("ann1", "ann2", "rev"):
        users[name], tokens[name] = create_user(
            db, name=name, role="annotator", password=f"{name}-password"
        )
    project = create_project(db, name="Team topics", n_items=6, batch_size=100)
    add_member(db, project, users["rev"], "reviewer")
    with db.writer() as session, session.begin():
        stored = session.get_one(Project, project.id)
        update_project(session, stored, ProjectUpdate(overlap=2), actor=CLI)
    return project.id, tokens


def _flag_in_the_annotate_screen(page: Page, url: str, project_id: int) -> int:
    """ann1 marks the first item unsure, with a comment, and labels it food; its id."""
    page.goto(f"{url}/projects/{project_id}/annotate")
    current = page.locator("#stage article.item:not([hidden])")
    item_id = int(current.get_attribute("data-item-id") or 0)
    page.keyboard.press("?")
    expect(page.get_by_role("button", name="Unsure")).to_have_attribute("aria-pressed", "true")
    page.get_by_label("Comment").fill("a recipe, or a sports dinner?")
    page.keyboard.press("Escape")  # leaves the comment box
    page.keyboard.press(KEYS["food"])
    expect(current).not_to_have_attribute("data-item-id", str(item_id))
    expect(page.get_by_role("button", name="Unsure")).to_have_attribute("aria-pressed", "false")
    expect(page.get_by_test_id("labelled-count")).to_have_text("1")
    return item_id


def _disagree_through_the_api(
    url: str, project_id: int, tokens: dict[str, str], item_id: int
) -> None:
    for name, label in (("ann1", "sports"), ("ann2", "weather")):
        response = httpx.post(
            f"{url}/api/v1/projects/{project_id}/annotations",
            json={"item_id": item_id, "label": label},
            headers=auth(tokens[name]),
        )
        assert response.status_code == 201, response.text


def _agreement_cell(page: Page, url: str, project_id: int, annotator: str) -> str:
    page.goto(f"{url}/projects/{project_id}")
    cell = page.get_by_test_id(f"review-agreement-{annotator}")
    expect(cell).to_be_visible(timeout=30_000)  # the panel loads after the page
    return cell.inner_text()


def test_reviewer_resolves_a_flag_and_a_disagreement(
    browser: Browser, live_server: str, web_db: Database, artifacts: Path
) -> None:
    project_id, tokens = _team(web_db)
    annotator = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    _sign_in(annotator, live_server, "ann1", "ann1-password")
    flagged = _flag_in_the_annotate_screen(annotator, live_server, project_id)
    with web_db.reader() as session:
        stored = session.scalar(select(Annotation).where(Annotation.item_id == flagged))
        assert stored is not None and stored.flag == "unsure"
        disputed = session.scalars(
            select(Item.id).where(Item.project_id == project_id, Item.id != flagged)
        ).first()
    assert disputed is not None
    _disagree_through_the_api(live_server, project_id, tokens, disputed)

    reviewer = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    _sign_in(reviewer, live_server, "rev", "rev-password")
    before = _agreement_cell(reviewer, live_server, project_id, "ann1")
    assert before.startswith("—") and before.endswith("of 0")
    reviewer.get_by_role("link", name="Review").click()
    expect(reviewer.get_by_role("heading", name="Team topics: review")).to_be_visible()
    flagged_card = reviewer.locator(f"#review-{flagged}")
    disputed_card = reviewer.locator(f"#review-{disputed}")
    expect(flagged_card).to_contain_text("unsure")
    expect(flagged_card).to_contain_text("a recipe, or a sports dinner?")
    expect(disputed_card).to_contain_text("ann2")
    expect(reviewer.get_by_test_id(f"status-{disputed}")).to_have_text("disagreement")
    expect(reviewer.get_by_test_id(f"final-{disputed}")).to_have_text("none")
    reviewer.screenshot(path=artifacts / "review-1280x800.png", full_page=True)

    # the disagreement by a click, with a note; the flagged item by its card's key
    disputed_card.get_by_label("Note").fill("it is about the match")
    disputed_card.get_by_role("button", name="sports").click()
    expect(reviewer.get_by_test_id(f"status-{disputed}")).to_have_text("adjudicated")
    expect(reviewer.get_by_test_id(f"final-{disputed}")).to_have_text("sports")
    reviewer.locator(f"#review-{flagged}").focus()
    reviewer.keyboard.press(KEYS["weather"])
    expect(reviewer.get_by_test_id(f"status-{flagged}")).to_have_text("adjudicated")
    expect(reviewer.get_by_test_id(f"final-{flagged}")).to_have_text("weather")

    # ann1: sports on the disputed item (as decided), food on the flagged one (not)
    assert _agreement_cell(reviewer, live_server, project_id, "ann1") == "50 % of 2"
    assert _agreement_cell(reviewer, live_server, project_id, "ann2") == "0 % of 1"
    reviewer.goto(f"{live_server}/projects/{project_id}/review")
    expect(reviewer.locator(f"#review-{disputed}")).to_have_count(0)
    export = httpx.get(
        f"{live_server}/api/v1/projects/{project_id}/export",
        params={"format": "csv"},
        headers=auth(tokens["rev"]),
    )
    rows = list(csv.DictReader(io.StringIO(export.text)))
    finals = {(r["item_id"], r["outcome"], r["final_label"]) for r in rows}
    assert finals == {
        (str(disputed), "adjudicated", "sports"),
        (str(flagged), "adjudicated", "weather"),
    }
