"""Import and export through the API: real multipart uploads, all-or-nothing, clear errors."""

from __future__ import annotations

import csv
import io
import json

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import Database
from app.main import create_app
from tests.factories import auth, create_project, create_user, import_counts
from tests.items.importing import state, upload

CSV = "id,text,label\n1,the pasta was great,food\n2,rain all day,weather\n3,a late goal,\n"


@pytest.fixture
def admin(db: Database) -> str:
    return create_user(db)[1]


def test_imports_csv_with_seed_labels(client: TestClient, db: Database, admin: str) -> None:
    project = create_project(db)
    response = upload(client, project.id, admin, "data.csv", CSV.encode())
    assert response.status_code == 201
    assert import_counts(response) == {"imported": 3, "duplicates": 0, "labeled": 2}
    counts = client.get(f"/api/v1/projects/{project.id}", headers=auth(admin)).json()
    assert (counts["n_items"], counts["n_labeled"], counts["n_unlabeled"]) == (3, 2, 1)


def _texts(client: TestClient, pid: int, token: str) -> list[tuple[str | None, str, list[str]]]:
    page = client.get(f"/api/v1/projects/{pid}/items", headers=auth(token)).json()
    return [
        (i["external_id"], i["text"], i["latest"]["labels"] if i["latest"] else [])
        for i in page["items"]
    ]


def test_a_semicolon_separated_csv_imports_by_its_semicolons(
    client: TestClient, db: Database, admin: str
) -> None:
    project = create_project(db, labels=["food", "weather"])
    data = b"msg_id;utterance;intent\nm1;pasta, then cake;food\nm2;rain all day;weather\n"
    form = {"text_field": "utterance", "label_field": "intent", "id_field": "msg_id"}
    response = upload(client, project.id, admin, "chat.csv", data, **form)
    assert response.status_code == 201, response.text
    assert _texts(client, project.id, admin) == [
        ("m1", "pasta, then cake", ["food"]),
        ("m2", "rain all day", ["weather"]),
    ]


def test_a_windows_1252_csv_imports_its_accented_texts(
    client: TestClient, db: Database, admin: str
) -> None:
    project = create_project(db, labels=["food", "weather"])
    data = "text,label\ncafé au lait,food\ntrès froid – neige,weather\n".encode("cp1252")
    response = upload(client, project.id, admin, "excel.csv", data)
    assert response.status_code == 201, response.text
    texts = [text for _, text, _ in _texts(client, project.id, admin)]
    assert texts == ["café au lait", "très froid – neige"]


def test_identical_texts_are_stored_once(client: TestClient, db: Database, admin: str) -> None:
    project = create_project(db)
    rows = [{"text": "same text"}, {"text": "other"}, {"text": "same text"}]
    body = "\n".join(json.dumps(r) for r in rows).encode()
    first = upload(client, project.id, admin, "a.jsonl", body)
    assert import_counts(first) == {"imported": 2, "duplicates": 1, "labeled": 0}
    again = upload(client, project.id, admin, "a.jsonl", body)
    assert again.status_code == 201
    assert import_counts(again) == {"imported": 0, "duplicates": 3, "labeled": 0}


def test_custom_field_names(client: TestClient, db: Database, admin: str) -> None:
    project = create_project(db)
    data = b"body\tcategory\tkey\nhello there\tfood\tk1\n"
    response = upload(
        client,
        project.id,
        admin,
        "x.tsv",
        data,
        text_field="body",
        label_field="category",
        id_field="key",
    )
    assert response.status_code == 201 and response.json()["labeled"] == 1


def test_json_array_import(client: TestClient, db: Database, admin: str) -> None:
    project = create_project(db)
    data = json.dumps([{"text": "one", "label": "food"}, {"text": "two"}]).encode()
    response = upload(client, project.id, admin, "x.json", data)
    assert import_counts(response) == {"imported": 2, "duplicates": 0, "labeled": 1}


BAD_FILES = [
    ("missing text column", "x.csv", b"id,body\n1,hello\n", {}, 422, "text"),
    ("unknown label", "x.csv", CSV.replace("weather", "music").encode(), {}, 422, "row 2"),
    ("invalid utf-8", "x.csv", "text\nnaïve\n".encode() + b"\xff\xfe bad\n", {}, 422, "UTF-8"),
    ("empty text", "x.jsonl", b'{"text": "fine"}\n{"text": "  "}\n', {}, 422, "row 2"),
    ("empty file", "x.csv", b"", {}, 422, "empty"),
    ("unknown format", "x.docx", b"text\nhello\n", {}, 415, "format"),
    ("named label field absent", "x.csv", b"text\nhi\n", {"label_field": "cat"}, 422, "cat"),
    ("id twice in file", "x.csv", b"id,text\n7,a\n7,b\n", {}, 422, "row 2"),
    ("spreadsheet", "x.xlsx", b"PK\x03\x04sheet", {}, 415, "save it as CSV"),
]


@pytest.mark.parametrize(
    ("case", "name", "data", "form", "status", "word"), BAD_FILES, ids=[c[0] for c in BAD_FILES]
)
def test_bad_files_are_rejected_and_write_nothing(
    client: TestClient,
    db: Database,
    admin: str,
    case: str,
    name: str,
    data: bytes,
    form: dict[str, str],
    status: int,
    word: str,
) -> None:
    project = create_project(db)
    before = state(db)
    response = upload(client, project.id, admin, name, data, **form)
    assert response.status_code == status, response.text
    assert word in response.json()["detail"]
    assert state(db) == before


def test_error_after_many_good_rows_writes_nothing(
    client: TestClient, db: Database, admin: str
) -> None:
    project = create_project(db)
    lines = ["text,label"] + [f"text number {i},food" for i in range(2500)] + ["bad row,music"]
    response = upload(client, project.id, admin, "big.csv", "\n".join(lines).encode())
    assert response.status_code == 422 and "row 2501" in response.json()["detail"]
    assert state(db) == (0, 0, 0)


def test_existing_id_is_rejected(client: TestClient, db: Database, admin: str) -> None:
    project = create_project(db)
    assert upload(client, project.id, admin, "a.csv", b"id,text\n1,first\n").status_code == 201
    before = state(db)
    response = upload(client, project.id, admin, "b.csv", b"id,text\n1,second\n")
    assert response.status_code == 422 and "already exists" in response.json()["detail"]
    assert state(db) == before


def test_upload_over_the_limit_is_413(settings: Settings, db: Database, admin: str) -> None:
    small = settings.model_copy(update={"max_upload_bytes": 2000})
    project = create_project(db)
    with TestClient(create_app(small, worker=False)) as client:
        data = b"text\n" + b"x" * 5000
        response = upload(client, project.id, admin, "big.csv", data)
        assert response.status_code == 413
        assert "2000" in response.json()["detail"]
    assert state(db) == (0, 0, 0)


def test_annotator_cannot_import(client: TestClient, db: Database) -> None:
    project = create_project(db)
    _, token = create_user(db, name="ann", role="annotator")
    assert upload(client, project.id, token, "a.csv", CSV.encode()).status_code == 403


def test_export_csv_and_jsonl(client: TestClient, db: Database, admin: str) -> None:
    project = create_project(db)
    data = CSV.replace("the pasta was great", "=HYPERLINK(1)").encode()
    upload(client, project.id, admin, "a.csv", data)
    response = client.get(f"/api/v1/projects/{project.id}/export?format=csv", headers=auth(admin))
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert {r["label"] for r in rows} == {"food", "weather"}
    assert "'=HYPERLINK(1)" in {r["text"] for r in rows}
    assert {r["source"] for r in rows} == {"import"}
    jsonl = client.get(f"/api/v1/projects/{project.id}/export?format=jsonl", headers=auth(admin))
    records = [json.loads(line) for line in jsonl.text.splitlines()]
    assert sorted(r["label"] for r in records) == ["food", "weather"]
    bad = client.get(f"/api/v1/projects/{project.id}/export?format=xml", headers=auth(admin))
    assert bad.status_code == 422
