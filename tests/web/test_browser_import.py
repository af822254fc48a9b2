"""The import wizard in Chromium: files whose columns are not called text/label map right
without touching the selects (guessed from their values), whatever their delimiter and
encoding, and a file that cannot be imported says why in place of the form."""

from __future__ import annotations

import csv
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

INTENTS = ["get_physical_card", "lost_card", "card_arrival", "exchange_rate"]
N_ROWS = 40


def _utterances() -> list[tuple[str, str, str]]:
    """(msg_id, utterance, intent) rows; the ids sort first and are the shortest column."""
    phrases = {
        "get_physical_card": "how do I order a physical card for my account",
        "lost_card": "I think I lost my card somewhere in town",
        "card_arrival": "when will the new card arrive by post",
        "exchange_rate": "which exchange rate do you use for euros",
    }
    return [
        (f"{i:05d}", f"{phrases[intent]}, message {i}", intent)
        for i in range(N_ROWS)
        for intent in [INTENTS[i % len(INTENTS)]]
    ]


def _write(path: Path, rows: list[tuple[str, str, str]], delimiter: str, encoding: str) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow(["msg_id", "utterance", "intent"])
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def _upload(page: Page, url: str, project_id: int, data: Path) -> None:
    page.goto(f"{url}/projects/{project_id}/import")
    page.get_by_label("Data file").set_input_files(data)
    page.get_by_role("button", name="Upload").click()


def _items(url: str, project_id: int, token: str) -> list[tuple[str, str, list[str]]]:
    page = httpx.get(
        f"{url}/api/v1/projects/{project_id}/items?limit=500", headers=auth(token)
    ).json()
    return [(i["external_id"], i["text"], i["latest"]["labels"]) for i in page["items"]]


@pytest.mark.parametrize(
    ("delimiter", "encoding", "layout"),
    [
        (",", "utf-8", "comma-separated, UTF-8"),
        (";", "cp1252", "semicolon-separated, Windows-1252 (Western European)"),
    ],
    ids=["comma-utf8", "semicolon-cp1252"],
)
def test_a_file_maps_and_imports_without_touching_the_selects(
    browser: Browser,
    live_server: str,
    web_db: Database,
    artifacts: Path,
    tmp_path: Path,
    delimiter: str,
    encoding: str,
    layout: str,
) -> None:
    token = create_user(web_db, name="ada", role="admin", password="ada-password")[1]
    project = create_project(web_db, name="Bank chat", labels=INTENTS)
    rows = _utterances()
    if encoding != "utf-8":  # a word only the sniffed code page reads right
        rows = [(i, text.replace("euros", "euros – café"), label) for i, text, label in rows]
    data = _write(tmp_path / "chat.csv", rows, delimiter, encoding)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    _sign_in(page, live_server, "ada", "ada-password")
    _upload(page, live_server, project.id, data)

    expect(page.get_by_role("heading", name="2. Map the fields of chat.csv")).to_be_visible()
    expect(page.get_by_label("Upload progress")).to_be_hidden()  # not left at 100 %
    expect(page.get_by_test_id("file-layout")).to_have_text(f"Read as {layout}, {N_ROWS} rows.")
    assert page.get_by_label("Text field").input_value() == "utterance"
    assert page.get_by_label("Label field").input_value() == "intent"
    assert page.get_by_label("ID field").input_value() == "msg_id"
    expect(page.get_by_test_id("preview").locator("tbody tr")).to_have_count(10)
    save_shots(page, artifacts, f"import-preview-{encoding}")

    page.get_by_role("button", name="Import").click()
    expect(page.get_by_test_id("imported")).to_have_text(str(N_ROWS))
    expect(page.get_by_label("Upload progress")).to_be_hidden()  # the import is no upload
    save_shots(page, artifacts, f"import-done-{encoding}")
    assert sorted(_items(live_server, project.id, token)) == [
        (msg_id, text, [label]) for msg_id, text, label in rows
    ]
    page.close()


def test_files_that_cannot_be_imported_say_why_in_place_of_the_form(
    browser: Browser, live_server: str, web_db: Database, artifacts: Path, tmp_path: Path
) -> None:
    create_user(web_db, name="ada", role="admin", password="ada-password")
    project = create_project(web_db, name="Bank chat", labels=INTENTS)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    _sign_in(page, live_server, "ada", "ada-password")
    problem = page.get_by_test_id("preview-problem")
    cases = [
        ("empty.csv", b"", "The file is empty."),
        ("sheet.xlsx", b"PK\x03\x04", "save it as CSV"),
        ("broken.csv", "text\nnaïve\n".encode() + b"bad \xe9\n", "Line 3: the file is not valid"),
    ]
    for name, body, words in cases:
        (tmp_path / name).write_bytes(body)
        _upload(page, live_server, project.id, tmp_path / name)
        expect(problem).to_contain_text(words)
        expect(page.get_by_role("button", name="Import")).to_have_count(0)
        save_shots(page, artifacts, f"import-problem-{Path(name).stem}")
    page.close()
