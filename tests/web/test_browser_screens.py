"""Every screen in Chromium at a laptop's and a phone's size: it renders with its heading, and
nothing runs off the side of the screen (no sideways scrolling). Screenshots of each go to
test-artifacts/ as screen-<name>-<w>x<h>.png."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import select

from app.annotations.service import Doubt, submit
from app.db import Database
from app.models import Item, Project, User
from tests.factories import create_project, create_user
from tests.web.conftest import SIZES
from tests.web.test_browser_dashboard import _admin_page, _train_once

pytestmark = [pytest.mark.browser, pytest.mark.process]

# (name, path, text the screen must show); {p}: the project, {u}: the admin's user id.
SCREENS = [
    ("projects", "/", "Projects"),
    ("new-project", "/projects/new", "New project"),
    ("dashboard", "/projects/{p}", "Topics"),
    ("annotate", "/projects/{p}/annotate", "Your last labels"),
    ("review", "/projects/{p}/review", "Review"),
    ("items", "/projects/{p}/items", "Items"),
    ("import", "/projects/{p}/import", "Upload a file"),
    ("settings", "/projects/{p}/settings", "Labels"),
    ("users", "/users", "Users"),
    ("tokens", "/users/{u}/tokens", "Tokens"),
    ("audit", "/audit", "Audit"),
    ("account", "/account", "API tokens"),
    ("not-found", "/projects/999999", "Not found"),
]


UNSURE = Doubt(flag="unsure", comment="not sure about this one")  # so review has an item


def _sideways(page: Page) -> int:
    """How many pixels the page is wider than the window (0: no sideways scrolling)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def _project(db: Database) -> tuple[int, int]:
    project = create_project(db, name="Topics", n_items=60, n_labeled=30)
    create_user(db, name="bo", role="annotator")
    with db.writer() as session, session.begin():
        bo = session.scalars(select(User).where(User.name == "bo")).one()
        p = session.get_one(Project, project.id)
        unlabelled = select(Item.id).where(Item.project_id == project.id, ~Item.labeled)
        for item_id in list(session.scalars(unlabelled.order_by(Item.id).limit(5))):
            submit(session, p, bo, item_id=item_id, labels=["food"], doubt=UNSURE)
    return project.id, bo.id


def test_every_screen_fits_a_laptop_and_a_phone(
    browser: Browser, live_server: str, web_db: Database, artifacts: Path
) -> None:
    page = _admin_page(browser, live_server, web_db)
    project_id, _ = _project(web_db)
    _train_once(web_db, project_id)
    with web_db.reader() as session:
        admin_id = session.scalars(select(User.id).where(User.name == "ada")).one()
    too_wide = []
    for name, path, text in SCREENS:
        page.goto(live_server + path.format(p=project_id, u=admin_id))
        shown = page.inner_text("main").lower()
        assert text.lower() in shown, f"{name}: {text!r} not on the screen"
        for width, height in SIZES:
            page.set_viewport_size({"width": width, "height": height})
            page.screenshot(path=artifacts / f"screen-{name}-{width}x{height}.png", full_page=True)
            if (extra := _sideways(page)) > 0:
                too_wide.append(f"{name} at {width}px: {extra}px too wide")
            if name == "users":  # a wide table: its last column must still be in view
                box = page.get_by_role("button", name="Delete bo").bounding_box()
                assert box is not None and box["x"] + box["width"] <= width, (width, box)
        page.set_viewport_size({"width": SIZES[0][0], "height": SIZES[0][1]})
    assert too_wide == []
