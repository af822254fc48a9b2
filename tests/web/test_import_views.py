"""The browser import's preview: columns guessed from their values, the layout and encoding
said, every row of a small file shown, and a file no mapping can import refused in place of
the form (4xx naming what is wrong), with nothing kept and nothing written."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import Database
from tests.factories import create_project
from tests.security.conftest import sign_in, snapshot

INTENTS = ["get_physical_card", "lost_card", "greet"]
CHAT = (
    "msg_id,utterance,intent\n"
    "m001,how do I get a physical card,get_physical_card\n"
    "m002,my card is lost,lost_card\n"
    "m003,hello there,greet\n"
)


def _preview(client: TestClient, token: str, pid: int, name: str, data: bytes):
    return client.post(
        f"/projects/{pid}/import/preview",
        files={"file": (name, data, "application/octet-stream")},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )


def _selected(html: str, field: str) -> str:
    select = html.split(f'name="{field}"')[1].split("</select>")[0]
    match = re.search(r"<option selected>([^<]*)</option>", select)
    return match.group(1) if match else ""


def _kept(settings: Settings) -> list[str]:
    uploads = settings.data_dir / "uploads"
    return sorted(p.name for p in uploads.iterdir()) if uploads.exists() else []


def test_columns_are_guessed_from_their_values(client: TestClient, db: Database) -> None:
    project = create_project(db, labels=INTENTS)
    token = sign_in(client, db)
    response = _preview(client, token, project.id, "chat.csv", CHAT.encode())
    assert response.status_code == 200, response.text
    html = response.text
    fields = ("text_field", "label_field", "id_field")
    assert [_selected(html, f) for f in fields] == ["utterance", "intent", "msg_id"]
    assert "Read as <strong>comma-separated, UTF-8</strong>, 3 rows." in html


def test_a_semicolon_latin1_file_is_described_and_shown_decoded(
    client: TestClient, db: Database
) -> None:
    project = create_project(db, labels=INTENTS)
    token = sign_in(client, db)
    data = CHAT.replace(",", ";").replace("hello there", "café crème").encode("cp1252")
    html = _preview(client, token, project.id, "chat.csv", data).text
    assert "semicolon-separated, Windows-1252 (Western European)" in html
    assert "<td>café crème</td>" in html
    assert _selected(html, "text_field") == "utterance"


def test_a_small_file_shows_every_row(client: TestClient, db: Database) -> None:
    project = create_project(db, labels=INTENTS)
    token = sign_in(client, db)
    html = _preview(client, token, project.id, "chat.csv", CHAT.encode().rstrip(b"\n")).text
    assert "Every row of the file" in html
    assert all(f"<td>m00{i}</td>" in html for i in (1, 2, 3))


PROBLEMS = [
    # (case, file name, body, status, words the message must name)
    ("empty", "x.csv", b"", 422, ["The file is empty."]),
    ("blank", "x.csv", b"\n\n  \n", 422, ["The file is empty."]),
    ("header only", "x.csv", b"text,label\n", 422, ["header (text, label)", "no data rows"]),
    ("xlsx", "data.xlsx", b"PK\x03\x04sheet", 415, ["spreadsheet", "save it as CSV"]),
    ("xlsx named csv", "data.csv", b"PK\x03\x04sheet", 422, ["Excel .xlsx"]),
    ("unknown name", "data.txt", b"text\nhi\n", 415, ["data.txt", ".csv"]),
    (
        "stray byte",
        "x.csv",
        "text\nnaïve\nok\n".encode() + b"bad \xe9\n",
        422,
        ["Line 4", "not valid UTF-8", "byte 0xE9 at byte 19"],
    ),
    ("NUL byte", "x.csv", b"text\nok\nnul\x00\n", 422, ["Line 3", "NUL", "binary file?<"]),
]


@pytest.mark.parametrize(
    ("case", "name", "data", "status", "words"), PROBLEMS, ids=[p[0] for p in PROBLEMS]
)
def test_a_file_no_mapping_can_import_is_refused_in_place_of_the_form(
    client: TestClient,
    db: Database,
    settings: Settings,
    case: str,
    name: str,
    data: bytes,
    status: int,
    words: list[str],
) -> None:
    project = create_project(db, labels=INTENTS)
    token = sign_in(client, db)
    before = snapshot(db), _kept(settings)
    response = _preview(client, token, project.id, name, data)
    assert response.status_code == status, response.text
    assert 'data-testid="preview-problem"' in response.text and 'id="mapping"' in response.text
    assert all(word in response.text for word in words), response.text
    assert "upload_id" not in response.text and "format control" not in response.text
    assert (snapshot(db), _kept(settings)) == before
