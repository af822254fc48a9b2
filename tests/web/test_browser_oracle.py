"""The oracle in Chromium, end to end with the real local model (``labelloop oracle
serve-local``): a manager writes the guidelines, turns on the pre-selected suggestion and adds
the model as the project's oracle on the settings page; the worker pre-labels in the
background; the annotator sees the suggestion pre-selected and Enter stores it as a human label
marked accepted; once people have labelled items the oracle answered, the dashboard's oracle
panel shows its accuracy."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from app.db import Database
from app.models import Annotation, Item, Project, Suggestion
from app.oracles.local import MODEL_ALIAS
from tests.factories import create_project, create_user, import_jsonl
from tests.llm import KEY_ENV, LocalLLM
from tests.server import serve
from tests.web.conftest import save_shots

pytestmark = [pytest.mark.browser, pytest.mark.process, pytest.mark.llm]

CURRENT = "#stage article.item:not([hidden])"
REVIEWS = {
    "I love this phone, it works perfectly and the battery lasts for days.": "positive",
    "What a wonderful day at the beach with my family, everything was great.": "positive",
    "The staff were friendly and helpful, excellent service, thank you!": "positive",
    "The worst purchase I have ever made: it broke after one day.": "negative",
    "The food was cold, the waiter was rude and we waited two hours.": "negative",
    "Terrible traffic again, it ruined my whole morning and I am furious.": "negative",
}
KEYS = {"positive": "1", "negative": "2"}  # the label keys, in the project's order
ANSWER_TIMEOUT = 300  # seconds for six answers of a 270M model on a busy 2-core machine


@pytest.fixture
def oracle_server(sqlite_url: str, tmp_path: Path, local_llm: LocalLLM) -> Iterator[str]:
    """``labelloop serve`` (embedded worker) that may call the local model on 127.0.0.1 and
    finds its key in the environment variable the oracle names."""
    env = {"LABELLOOP_ORACLE_HOSTS": "127.0.0.1", KEY_ENV: local_llm.api_key}
    with serve(sqlite_url, tmp_path / "data", LABELLOOP_ORACLE_POLL_SECONDS="0.2", **env) as url:
        yield url


def _project(db: Database) -> int:
    project = create_project(db, name="reviews", labels=list(KEYS), batch_size=100)
    with db.writer() as session, session.begin():
        stored = session.get_one(Project, project.id)
        import_jsonl(session, stored, [{"text": text} for text in REVIEWS])
    return project.id


def _sign_in(page: Page, url: str, name: str) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(f"{name}-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Projects")).to_be_visible()


def _configure(page: Page, url: str, project_id: int, llm: LocalLLM) -> None:
    """Guidelines, the pre-selected suggestion and the local model as oracle, by the forms."""
    page.goto(f"{url}/projects/{project_id}/settings")
    notice = page.get_by_test_id("notice")
    page.get_by_role("textbox", name="Guidelines").fill("Is the review positive or negative?")
    page.get_by_role("button", name="Save guidelines").click()
    expect(notice).to_have_text("Guidelines and label descriptions saved.")
    page.get_by_label("Pre-select the suggestion").check()
    page.get_by_role("button", name="Save oracle options").click()
    expect(notice).to_have_text("Oracle options saved.")
    form = page.get_by_test_id("add-oracle")
    form.get_by_label("Name").fill("local")
    form.get_by_label("Base URL (openai) or URL (http)").fill(llm.base_url)
    form.get_by_label("Model (openai)").fill(MODEL_ALIAS)
    form.get_by_label("API key variable").fill(KEY_ENV)
    form.get_by_label("Timeout (seconds)").fill("120")
    form.get_by_label("Response format (openai)").select_option("json_object_schema")
    form.get_by_label("Concurrency").fill("1")
    form.get_by_role("button", name="Add oracle").click()
    expect(notice).to_contain_text("Oracle 'local' added")
    expect(page.get_by_test_id("oracles")).to_contain_text(KEY_ENV)
    assert llm.api_key not in page.content()


def _wait_for_answers(db: Database, project_id: int) -> dict[int, str]:
    """Item id -> the oracle's label, once every item has an answer (polled, with a deadline)."""
    deadline = time.monotonic() + ANSWER_TIMEOUT
    stmt = select(Suggestion.item_id, Suggestion.labels).where(Suggestion.project_id == project_id)
    while time.monotonic() < deadline:
        with db.reader() as session:
            rows = session.execute(stmt).all()
        answers = {item_id: labels[0] for item_id, labels in rows if labels}
        if len(answers) == len(REVIEWS):
            return answers
        time.sleep(0.5)  # the worker asks the model one item after another
    raise AssertionError(f"{len(answers)} of {len(REVIEWS)} items answered in {ANSWER_TIMEOUT} s")


def _stored(db: Database, item_id: int, deadline_s: float = 20) -> tuple[str, list[str], str]:
    """The item's label as stored (source, labels, suggestion mark), once the browser sent it."""
    deadline = time.monotonic() + deadline_s
    stmt = select(Annotation.source, Annotation.labels, Annotation.suggestion).where(
        Annotation.item_id == item_id
    )
    while time.monotonic() < deadline:
        with db.reader() as session:
            row = session.execute(stmt).first()
        if row is not None:
            return row[0], list(row[1]), row[2]
        time.sleep(0.1)  # the outbox posts in the background
    raise AssertionError(f"item {item_id} was not stored in {deadline_s} s")


def _texts(db: Database, project_id: int) -> dict[str, int]:
    with db.reader() as session:
        stmt = select(Item.text, Item.id).where(Item.project_id == project_id)
        return {text: item_id for text, item_id in session.execute(stmt)}


def test_a_suggestion_is_preselected_accepted_and_measured(
    browser: Browser,
    oracle_server: str,
    web_db: Database,
    local_llm: LocalLLM,
    artifacts: Path,
) -> None:
    project_id = _project(web_db)
    create_user(web_db, name="ada", role="admin", password="ada-password")
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    _sign_in(page, oracle_server, "ada")
    _configure(page, oracle_server, project_id, local_llm)
    answers = _wait_for_answers(web_db, project_id)
    ids = _texts(web_db, project_id)

    page.goto(f"{oracle_server}/projects/{project_id}/annotate")
    expect(page.get_by_test_id("guidelines")).to_contain_text("positive or negative")
    item = page.locator(CURRENT)
    first = ids[item.locator(".item-text").inner_text()]
    suggested = answers[first]
    expect(item.get_by_test_id("suggestion")).to_contain_text(f"Suggested by local: {suggested}")
    preselected = page.locator(f'#labels .label-btn.best[data-label="{suggested}"]')
    expect(preselected).to_be_visible()
    save_shots(page, artifacts, "annotate-oracle-suggestion", full_page=False)
    page.keyboard.press("Enter")
    assert _stored(web_db, first) == ("human", [suggested], "accepted")

    for _ in range(3):  # people label three more items the oracle answered, by the truth
        text = item.locator(".item-text").inner_text()
        page.keyboard.press(KEYS[REVIEWS[text]])
        expect(item.locator(".item-text")).not_to_have_text(text)
        source, labels, mark = _stored(web_db, ids[text])
        expected = "accepted" if answers[ids[text]] == REVIEWS[text] else "changed"
        assert (source, labels, mark) == ("human", [REVIEWS[text]], expected)

    with web_db.reader() as session:
        stmt = select(Annotation.item_id, Annotation.labels).where(Annotation.source == "human")
        human = {item_id: labels for item_id, labels in session.execute(stmt)}
    right = sum(answers[i] == labels[0] for i, labels in human.items())
    page.goto(f"{oracle_server}/projects/{project_id}")
    accuracy = page.get_by_test_id("oracle-accuracy")  # the panel loads after the page
    expect(accuracy).to_contain_text(f"{right / 4:.3f}")
    expect(accuracy).to_contain_text("n = 4")
    expect(page.get_by_test_id("oracle-answered")).to_have_text(str(len(REVIEWS)))
    save_shots(page, artifacts, "dashboard-oracle-panel")
