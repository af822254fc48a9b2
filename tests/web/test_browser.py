"""End to end in Chromium: admin sets up a project, an annotator labels by keyboard only."""

from __future__ import annotations

import csv
import io
import re
import statistics
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from app.db import Database
from tests.factories import create_user, topic_texts

pytestmark = [pytest.mark.browser, pytest.mark.process]

LABELS = ["sports", "weather", "food"]
N_ITEMS = 60
BATCH = 10
TO_LABEL = 25


def _user(db: Database, name: str, role: str, password: str) -> None:
    """A user who signs in with ``password``, a member of every project."""
    create_user(db, name=name, role=role, password=password)


def _sign_in(page: Page, url: str, name: str, password: str) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Projects")).to_be_visible()


def _dataset(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    gold, path = {}, tmp_path / "topics.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["key", "body", "note"])
        for i, (text, label) in enumerate(topic_texts(N_ITEMS)):
            writer.writerow([f"k{i}", text, "x"])
            gold[text] = label
    return path, gold


def _create_project_and_import(page: Page, url: str, data: Path) -> int:
    page.get_by_role("link", name="New project").click()
    page.get_by_label("Name").fill("Topics")
    page.get_by_role("textbox", name="Labels").fill("\n".join(LABELS))
    page.get_by_role("spinbutton", name="Retrain after every").fill(str(BATCH))
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", name="1. Upload a file")).to_be_visible()
    project_id = int(page.url.split("/projects/")[1].split("/")[0])
    page.get_by_label("Data file").set_input_files(data)
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("heading", name="2. Map the fields of topics.csv")).to_be_visible()
    page.get_by_label("Text field").select_option("body")
    page.get_by_label("Label field").select_option("")
    page.get_by_label("ID field").select_option("key")
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_test_id("imported")).to_have_text(str(N_ITEMS))
    return project_id


def _add_member(page: Page, name: str, role: str) -> None:
    """Add ``name`` in the Members section of the dashboard ``page`` shows."""
    members = page.locator("#members")
    members.get_by_label("User name").fill(name)
    members.get_by_label("Role of the new member").select_option(role)
    members.get_by_role("button", name="Add member").click()
    expect(page.get_by_test_id("members")).to_contain_text(name)


def _shots(page: Page, artifacts: Path, name: str) -> None:
    for width, height in ((1280, 800), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=artifacts / f"{name}-{width}x{height}.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})


def test_admin_sets_up_and_annotator_labels_by_keyboard(
    browser: Browser, live_server: str, web_db: Database, tmp_path: Path, artifacts: Path
) -> None:
    _user(web_db, "ada", "admin", "ada-password")
    _user(web_db, "bo", "annotator", "bo-password")
    data, gold = _dataset(tmp_path)
    admin = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    dashboard = admin.new_page()
    _sign_in(dashboard, live_server, "ada", "ada-password")
    project_id = _create_project_and_import(dashboard, live_server, data)
    dashboard.goto(f"{live_server}/projects/{project_id}")
    expect(dashboard.get_by_test_id("model-version")).to_have_text("none yet")

    annotator = browser.new_context(viewport={"width": 1280, "height": 800})
    page = annotator.new_page()
    _sign_in(page, live_server, "bo", "bo-password")
    page.goto(f"{live_server}/projects/{project_id}")  # not a member yet: not found
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    _add_member(dashboard, "bo", "annotator")
    page.goto(f"{live_server}/projects/{project_id}/annotate")
    keys = {label: str(i + 1) for i, label in enumerate(LABELS)}
    item = page.locator("#stage article.item:not([hidden]) .item-text")
    given: dict[str, str] = {}
    for _ in range(TO_LABEL):
        text = item.inner_text()
        page.keyboard.press(keys[gold[text]])
        given[text] = gold[text]
        expect(item).not_to_have_text(text)
    # undo the last label: that item comes back and is relabelled
    last = list(given)[-1]
    shown = item.inner_text()
    page.keyboard.press("u")
    expect(item).to_have_text(last)
    wrong = next(label for label in LABELS if label != gold[last])
    page.keyboard.press(keys[wrong])
    given[last] = wrong
    expect(item).to_have_text(shown)
    expect(page.get_by_test_id("labelled-count")).to_have_text(str(TO_LABEL), timeout=15_000)
    timings = page.evaluate("window.labelloopTimings")
    median = statistics.median(timings)
    (artifacts / "key-to-next-item-ms.txt").write_text(
        f"median {median:.1f} ms over {len(timings)} key presses\n"
    )
    assert median < 100, timings

    # the dashboard updates itself: a model (the runs of the import and of the label batches
    # may fold into one, so any version counts) and, after cross-validation, its accuracy
    expect(dashboard.get_by_test_id("model-version")).to_have_text(
        re.compile(r"^v[1-9][0-9]*$"), timeout=90_000
    )
    expect(dashboard.get_by_test_id("model-accuracy")).not_to_have_text("—", timeout=60_000)
    expect(dashboard.get_by_test_id("labelled")).to_have_text(str(TO_LABEL))
    _shots(page, artifacts, "annotate")
    _shots(dashboard, artifacts, "dashboard")

    with dashboard.expect_download() as download:
        dashboard.get_by_role("link", name="Export CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert {r["text"]: r["label"] for r in rows} == given
    assert {r["annotator"] for r in rows} == {"bo"}


def test_html_in_item_text_is_shown_literally_and_never_runs(
    browser: Browser, live_server: str, web_db: Database
) -> None:
    from tests.factories import create_project, import_jsonl

    hostile = ['<script>alert("x")</script> hello', '<img src=x onerror="alert(1)"> there']
    project = create_project(web_db, name="hostile")
    with web_db.writer() as session, session.begin():
        from app.models import Project

        import_jsonl(session, session.get_one(Project, project.id), [{"text": t} for t in hostile])
    _user(web_db, "eve", "annotator", "eve-password")
    context = browser.new_context()
    page = context.new_page()
    dialogs: list[str] = []
    requests: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("request", lambda r: requests.append(r.url))
    _sign_in(page, live_server, "eve", "eve-password")
    page.goto(f"{live_server}/projects/{project.id}/annotate")
    texts = page.locator("#stage .item-text").all_text_contents()
    assert sorted(texts) == sorted(hostile)
    assert page.locator("#stage script, #stage img").count() == 0
    page.keyboard.press("1")
    expect(page.locator("#stage article.item:not([hidden]) .item-text")).to_have_count(1)
    assert dialogs == []
    assert all(r.startswith(live_server) for r in requests), requests
    assert not any(r.endswith("/x") for r in requests)


def test_many_labels_picker_and_multi_label_toggles(
    browser: Browser, live_server: str, web_db: Database
) -> None:
    from sqlalchemy import select

    from app.models import Annotation, Project
    from tests.factories import create_project, import_jsonl

    labels = [
        f"intent_{name}"
        for name in [
            "alpha",
            "bravo",
            "charlie",
            "delta",
            "echo",
            "foxtrot",
            "golf",
            "hotel",
            "india",
            "juliet",
            "kilo",
            "lima",
        ]
    ]
    project = create_project(web_db, name="many", labels=labels, multi_label=True)
    with web_db.writer() as session, session.begin():
        rows = [{"text": f"message number {i}"} for i in range(5)]
        import_jsonl(session, session.get_one(Project, project.id), rows)
    _user(web_db, "kim", "annotator", "kim-password")
    page = browser.new_context().new_page()
    _sign_in(page, live_server, "kim", "kim-password")
    page.goto(f"{live_server}/projects/{project.id}/annotate")
    item = page.locator("#stage article.item:not([hidden]) .item-text")
    first = item.inner_text()
    page.keyboard.press("2")  # toggles intent_bravo
    page.keyboard.press("/")
    page.keyboard.type("kil")
    expect(page.locator("#picker-list li:not([hidden])")).to_have_count(1)
    page.keyboard.press("Enter")  # toggles intent_kilo, focus stays in the picker
    page.keyboard.press("Escape")
    pressed = page.locator("#labels .label-btn[aria-pressed=true]")
    expect(pressed).to_have_count(2)
    page.keyboard.press("Enter")  # submits the toggled set
    expect(item).not_to_have_text(first)
    expect(pressed).to_have_count(0)
    expect(page.locator("#history li")).to_have_count(1)
    with web_db.reader() as session:
        stored = session.scalars(select(Annotation.labels)).all()
    assert [sorted(labels) for labels in stored] == [["intent_bravo", "intent_kilo"]]
