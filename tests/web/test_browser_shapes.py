"""The annotate screen's task shapes in Chromium: a translation review labelled with the keys,
a correction typed (its keys never taken for labels) and stored with the label, taken back by
undo; sentences included and excluded with their letters and numbers, each shown inside its
document. Screenshots of both at a laptop's and a phone's size."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from app.db import Database
from app.models import Annotation, Item
from tests.factories import create_user
from tests.web.conftest import save_shots, sign_in
from tests.web.shapes import PAIRS, sentence_project, translation_project

pytestmark = [pytest.mark.browser, pytest.mark.process]

CURRENT = "#stage article.item:not([hidden])"
CORRECTION = "A better one, 2 times: sure."  # "2" and "s" are keys outside the box
NEWS = [
    "Storms swept across the northern coast on Tuesday, cutting power to thousands of homes. "
    "Rail services were suspended for most of the day. Engineers worked through the night to "
    "restore the lines. The weather service expects calmer conditions by the weekend. "
    "Schools in three districts stayed closed. A spokesperson for the grid operator said most "
    "customers would be reconnected by Thursday. Farmers reported damage to crops and fences. "
    "Insurance companies opened emergency hotlines. The mayor thanked volunteers who cleared "
    "fallen trees. Officials will review the storm response next month.",
    "The city council approved a new budget on Monday. It raises spending on public transport. "
    "Critics said the plan relies on optimistic tax forecasts.",
]


def _annotation(db: Database, item_id: int) -> Annotation:
    with db.reader() as session:
        found = session.scalars(select(Annotation).where(Annotation.item_id == item_id)).one()
        session.expunge(found)
        return found


def _shown_id(page: Page) -> int:
    return int(page.locator(CURRENT).get_attribute("data-item-id") or 0)


@pytest.fixture
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the screenshots go (printed, to be looked at)."""
    path = tmp_path_factory.mktemp("shapes-screenshots")
    print(f"screenshots in {path}")
    return path


def test_a_translation_review_is_labelled_and_corrected_with_the_keys(
    browser: Browser, live_server: str, web_db: Database, shots: Path
) -> None:
    project = translation_project(web_db)
    create_user(web_db, name="bo", role="annotator", password="bo-password")
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    sign_in(page, live_server, "bo")
    page.goto(f"{live_server}/projects/{project.id}/annotate")
    current = page.locator(CURRENT)
    expect(current.locator("dt")).to_have_text(["source", "translation"])
    save_shots(page, shots, "translation-review")
    first = _shown_id(page)
    page.keyboard.press("1")  # ok, the correction left as it was
    expect(page.get_by_test_id("labelled-count")).to_have_text("1")
    assert (_annotation(web_db, first).labels, _annotation(web_db, first).correction) == (
        ["ok"],
        None,
    )
    second = _shown_id(page)
    box = current.locator(".correction-box")
    page.keyboard.press("e")
    expect(box).to_be_focused()
    page.keyboard.press("Control+A")
    page.keyboard.type(CORRECTION)
    expect(box).to_have_value(CORRECTION)
    assert _shown_id(page) == second
    save_shots(page, shots, "translation-review-corrected", full_page=False)
    page.keyboard.press("Escape")
    expect(box).not_to_be_focused()
    page.keyboard.press("2")  # mistranslation, with the correction
    expect(page.get_by_test_id("labelled-count")).to_have_text("2")
    stored = _annotation(web_db, second)
    assert (stored.labels, stored.correction) == (
        ["mistranslation"],
        CORRECTION,
    )
    history = page.get_by_test_id("history-correction").first
    expect(history).to_contain_text(CORRECTION)
    page.keyboard.press("u")  # the item comes back with the correction that was sent
    expect(page.get_by_test_id("labelled-count")).to_have_text("1")
    assert _shown_id(page) == second
    expect(current.locator(".correction-box")).to_have_value(CORRECTION)
    page.keyboard.press("3")  # omission, the correction kept
    expect(page.get_by_test_id("labelled-count")).to_have_text("2")
    stored = _annotation(web_db, second)
    assert (stored.labels, stored.correction) == (["omission"], CORRECTION)
    with web_db.reader() as session:
        texts = session.scalars(select(Item.text).where(Item.project_id == project.id)).all()
    assert sorted(texts) == sorted(t for _, t in PAIRS)


def _sentence_in_view(page: Page) -> None:
    """The current sentence lies inside its document's visible box."""
    doc = page.locator(f"{CURRENT} .document").bounding_box()
    mark = page.locator(f"{CURRENT} mark.sentence").bounding_box()
    assert doc and mark
    assert doc["y"] <= mark["y"] and mark["y"] + mark["height"] <= doc["y"] + doc["height"] + 1


def test_sentences_are_included_and_excluded_inside_their_documents(
    browser: Browser, live_server: str, web_db: Database, shots: Path
) -> None:
    project = sentence_project(web_db, NEWS)
    create_user(web_db, name="bo", role="annotator", password="bo-password")
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    sign_in(page, live_server, "bo")
    page.goto(f"{live_server}/projects/{project.id}/annotate")
    expect(page.locator("#labels [data-letter='i']")).to_contain_text("include")
    expect(page.locator("#labels [data-letter='x']")).to_contain_text("exclude")
    given: dict[int, str] = {}
    for n, (key, label) in enumerate(
        [("i", "include"), ("x", "exclude"), ("1", "include"), ("2", "exclude")] * 2
    ):
        item_id = _shown_id(page)
        with web_db.reader() as session:
            item = session.get_one(Item, item_id)
            position = item.position
        assert position is not None
        expect(page.locator(f"{CURRENT} [data-testid=sentence-position]")).to_contain_text(
            f"Sentence {position + 1} of "
        )
        expect(page.locator(f"{CURRENT} mark.sentence")).to_have_text(item.text)
        _sentence_in_view(page)
        if n == 5:
            save_shots(page, shots, "sentence-selection", full_page=False)
        page.keyboard.press(key)
        given[item_id] = label
        expect(page.get_by_test_id("labelled-count")).to_have_text(str(n + 1))
    with web_db.reader() as session:
        stored = session.execute(
            select(Annotation.item_id, Annotation.labels).where(Annotation.project_id == project.id)
        ).all()
    assert {item_id: labels for item_id, labels in stored} == {
        item_id: [label] for item_id, label in given.items()
    }


def test_on_a_touch_phone_fields_stack_and_a_tapped_label_takes_the_typed_correction(
    browser: Browser, live_server: str, web_db: Database, shots: Path
) -> None:
    project = translation_project(web_db)
    create_user(web_db, name="kim", role="annotator", password="kim-password")
    phone = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    page = phone.new_page()
    sign_in(page, live_server, "kim")
    page.goto(f"{live_server}/projects/{project.id}/annotate")
    source = page.locator(f"{CURRENT} [data-field=source]").bounding_box()
    target = page.locator(f"{CURRENT} [data-field=translation]").bounding_box()
    assert source and target and target["y"] >= source["y"] + source["height"]  # stacked
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    expect(page.locator(f"{CURRENT} .correction .key-hint")).to_be_hidden()
    expect(page.locator("#labels kbd").first).to_be_hidden()
    item_id = _shown_id(page)
    box = page.locator(f"{CURRENT} .correction-box")
    box.tap()
    box.fill("The dog is sleeping in the garden.")
    page.screenshot(path=shots / "translation-review-touch-390x844.png")
    page.get_by_role("button", name="grammar").tap()
    expect(page.get_by_test_id("labelled-count")).to_have_text("1")
    stored = _annotation(web_db, item_id)
    assert (stored.labels, stored.correction) == (["grammar"], "The dog is sleeping in the garden.")
