"""What an import checks of its records once read: a text labelled two ways in one file is
refused (in one chunk and across chunks), while repeats that agree stay counted duplicates."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.db import Database
from app.items.service import CHUNK_ROWS
from tests.factories import auth, create_project, create_user, import_counts
from tests.items.importing import state, upload


@pytest.fixture
def admin(db: Database) -> str:
    return create_user(db)[1]


def test_rows_of_one_text_with_different_labels_are_refused_naming_both(
    client: TestClient, db: Database, admin: str
) -> None:
    project = create_project(db, labels=["pos", "neg"])
    before = state(db)
    data = b"text,label\nfine,pos\nhello,pos\nhello,neg\n"
    response = upload(client, project.id, admin, "a.csv", data)
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith(
        "row 3 (line 4): labelled 'neg', but row 2 (line 3) has the same text labelled 'pos'"
    )
    assert state(db) == before


def test_a_text_labelled_two_ways_in_different_chunks_is_refused(
    client: TestClient, db: Database, admin: str
) -> None:
    # The first "hello" has no label and the second, in the same chunk, one: the label is
    # what the later chunk's row contradicts.
    project = create_project(db, labels=["pos", "neg"])
    lines = ["text,label", "hello,", "hello,pos"]
    lines += [f"text number {i}," for i in range(CHUNK_ROWS)] + ["hello,neg"]
    response = upload(client, project.id, admin, "a.csv", "\n".join(lines).encode())
    assert response.status_code == 422, response.text
    last = CHUNK_ROWS + 3
    assert response.json()["detail"].startswith(
        f"row {last} (line {last + 1}): labelled 'neg', but row 2 (line 3) has the same text"
    )
    assert state(db) == (0, 0, 0)


def test_repeats_with_the_same_label_or_none_are_duplicates(
    client: TestClient, db: Database, admin: str
) -> None:
    project = create_project(db, labels=["pos", "neg"])
    lines = ["text,label", "hello,pos", "hello,pos", "hello,", "other,"]
    lines += [f"text number {i}," for i in range(CHUNK_ROWS)] + ["hello,pos", "other,neg"]
    response = upload(client, project.id, admin, "a.csv", "\n".join(lines).encode())
    assert response.status_code == 201, response.text
    assert import_counts(response) == {"imported": CHUNK_ROWS + 2, "duplicates": 4, "labeled": 1}


def test_the_same_labels_in_another_order_are_a_duplicate(
    client: TestClient, db: Database, admin: str
) -> None:
    project = create_project(db, labels=["a", "b", "c"], multi_label=True)
    data = b"text,label\nhello,a|b\nhello,b|a\nhello,a|c\n"
    response = upload(client, project.id, admin, "a.csv", data)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail.startswith("row 3 (line 4): labelled 'a' and 'c', but row 1 (line 2)")
    response = upload(client, project.id, admin, "a.csv", data.rsplit(b"hello", 1)[0])
    assert import_counts(response) == {"imported": 1, "duplicates": 1, "labeled": 1}


def _ids(n: int) -> str:
    return "\n".join(["id,text"] + [f"r{i},text number {i}" for i in range(n)] + ["r0,again"])


REFUSALS = [
    ("unknown label", {}, "", "text,label\nfine,pos\nhmm,maybe\n", "row 2 (line 3): unknown label"),
    ("id twice", {}, "", "id,text\n1,a\n1,b\n", "row 2 (line 3): id '1' appears twice in the file"),
    ("id twice across chunks", {}, "", _ids(CHUNK_ROWS), f"row {CHUNK_ROWS + 1} (line "),
    ("id taken", {}, "id,text\n1,a\n", "id,text\n\n1,b\n", "row 1 (line 3): id '1' already exists"),
    (
        "labelled document",
        {"task": "sentence_selection"},
        "",
        "text,label\nOne. Two.,pos\n",
        "row 1 (line 2): a document takes no label",
    ),
    (
        "document id twice",
        {"task": "sentence_selection"},
        "",
        "id,text\nd,One. Two.\n\nd,Three.\n",
        "row 2 (line 4): id 'd' appears twice in the file",
    ),
]


@pytest.mark.parametrize(
    ("case", "shape", "first", "data", "message"), REFUSALS, ids=[c[0] for c in REFUSALS]
)
def test_every_refusal_after_reading_names_the_row_and_line(
    client: TestClient,
    db: Database,
    admin: str,
    case: str,
    shape: dict[str, str],
    first: str,
    data: str,
    message: str,
) -> None:
    body = {"name": "p", "labels": ["pos", "neg"]} | shape
    pid = client.post("/api/v1/projects", json=body, headers=auth(admin)).json()["id"]
    if first:
        assert upload(client, pid, admin, "first.csv", first.encode()).status_code == 201
    before = state(db)
    response = upload(client, pid, admin, "a.csv", data.encode())
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith(message)
    assert state(db) == before
