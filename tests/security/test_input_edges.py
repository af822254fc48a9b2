"""Edges of JSON and Unicode: refused with a 4xx that names the field, never a 500, and
look-alike labels and names refused (the "input edges" findings).

Python's json module reads NaN, Infinity, 1e400 (as inf) and lone surrogates ("\\ud800"), none
of which a float column, a JSON response or a UTF-8 database can hold: each was a 500 on
the API, and a JSON-array import stored "?" for a lone surrogate. Labels that look alike
("spam", "sp\\u200bam", "ｓｐａｍ") were stored as distinct. Each case runs on both databases.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.db import Database
from app.models import Annotation, Item, Project
from tests.factories import auth, create_project, create_user
from tests.security.conftest import sign_in, snapshot

BAD_NUMBERS = {
    "NaN": "NaN is not a JSON number",
    "Infinity": "Infinity is not a JSON number",
    "-Infinity": "-Infinity is not a JSON number",
    "1e400": "1e400 is too large for a float",
}
SURROGATE = '"\\ud800"'  # JSON text: a lone high surrogate escape
BAD_VALUES = [*BAD_NUMBERS, SURROGATE, '"ok\\uDC00"']


def _expected(literal: str) -> tuple[str, str]:
    """The error type and the words of the message for a bad ``literal``."""
    if literal in BAD_NUMBERS:
        return "finite_number", BAD_NUMBERS[literal]
    return "string_unicode", "lone surrogate"


def _send(client: TestClient, method: str, url: str, body: str, token: str) -> Any:
    headers = {**auth(token), "Content-Type": "application/json"}
    return client.request(method, url, content=body.encode(), headers=headers)


def _assert_refused(response: Any, loc: list[str | int], literal: str) -> None:
    """422 with one problem in FastAPI's format, naming the field and what is wrong."""
    assert response.status_code == 422, response.text
    (problem,) = response.json()["detail"]
    kind, words = _expected(literal)
    assert problem["loc"] == ["body", *loc]
    assert problem["type"] == kind
    assert words in problem["msg"]


def _item_ids(db: Database, project_id: int) -> list[int]:
    with db.reader() as session:
        stmt = select(Item.id).where(Item.project_id == project_id).order_by(Item.id)
        return list(session.scalars(stmt))


def _count(db: Database, model: type) -> int:
    with db.reader() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


# --- the JSON API ----------------------------------------------------------------------------


@pytest.mark.parametrize("literal", BAD_VALUES)
def test_bad_values_in_annotations_are_422_naming_the_entry(
    client: TestClient, db: Database, literal: str
) -> None:
    project = create_project(db, n_items=5)
    ids = _item_ids(db, project.id)
    _, token = create_user(db, name="ann", role="annotator")
    url = f"/api/v1/projects/{project.id}/annotations"
    single = f'{{"item_id": {ids[0]}, "label": {literal}}}'
    _assert_refused(_send(client, "POST", url, single, token), ["label"], literal)
    entries = [f'{{"item_id": {i}, "label": "food"}}' for i in ids[:3]]
    entries.append(f'{{"item_id": {ids[3]}, "label": {literal}}}')
    bulk = f'{{"annotations": [{", ".join(entries)}]}}'
    response = _send(client, "POST", f"{url}/bulk", bulk, token)
    _assert_refused(response, ["annotations", 3, "label"], literal)
    assert _count(db, Annotation) == 0


@pytest.mark.parametrize("literal", BAD_VALUES)
def test_bad_values_in_a_project_patch_are_422_and_change_nothing(
    client: TestClient, db: Database, admin: str, literal: str
) -> None:
    project = create_project(db)
    url = f"/api/v1/projects/{project.id}"
    before = client.get(url, headers=auth(admin)).json()
    field = "epsilon" if literal in BAD_NUMBERS else "strategy"
    response = _send(client, "PATCH", url, f'{{"{field}": {literal}}}', admin)
    _assert_refused(response, [field], literal)
    assert client.get(url, headers=auth(admin)).json() == before


@pytest.mark.parametrize("literal", BAD_VALUES)
def test_bad_values_in_predict_texts_are_422(
    client: TestClient, db: Database, admin: str, literal: str
) -> None:
    project = create_project(db)
    url = f"/api/v1/projects/{project.id}/predict"
    response = _send(client, "POST", url, f'{{"texts": ["fine", {literal}]}}', admin)
    _assert_refused(response, ["texts", 1], literal)


@pytest.mark.parametrize("literal", BAD_VALUES)
def test_bad_values_in_a_new_project_are_422_and_create_nothing(
    client: TestClient, db: Database, admin: str, literal: str
) -> None:
    for body, loc in (
        (f'{{"name": {literal}, "labels": ["a", "b"]}}', ["name"]),
        (f'{{"name": "fine", "labels": ["a", {literal}]}}', ["labels", 1]),
        (f'{{"name": "fine", "labels": ["a", "b"], "epsilon": {literal}}}', ["epsilon"]),
    ):
        _assert_refused(_send(client, "POST", "/api/v1/projects", body, admin), loc, literal)
    assert _count(db, Project) == 0


def test_a_lone_surrogate_in_a_key_is_422_naming_the_key(
    client: TestClient, db: Database, admin: str
) -> None:
    body = '{"name": "fine", "labels": ["a", "b"], "extra": {"ke\\ud800y": 1}}'
    response = _send(client, "POST", "/api/v1/projects", body, admin)
    assert response.status_code == 422, response.text
    (problem,) = response.json()["detail"]
    assert problem["loc"] == ["body", "extra", "ke\\ud800y"]
    assert "lone surrogate U+D800" in problem["msg"] and "key" in problem["msg"]
    assert _count(db, Project) == 0


def test_a_surrogate_encoded_as_raw_bytes_is_422(
    client: TestClient, db: Database, admin: str
) -> None:
    # ED A0 80 is U+D800 written as UTF-8 would, which json.loads reads ("surrogatepass").
    body = b'{"name": "bad\xed\xa0\x80", "labels": ["a"]}'
    headers = {**auth(admin), "Content-Type": "application/json"}
    response = client.post("/api/v1/projects", content=body, headers=headers)
    assert response.status_code == 422, response.text
    (problem,) = response.json()["detail"]
    assert problem["loc"] == ["body"] and "not valid UTF-8" in problem["msg"]
    assert _count(db, Project) == 0


def test_surrogate_pairs_and_ordinary_floats_still_pass(
    client: TestClient, db: Database, admin: str
) -> None:
    body = '{"name": "emoji \\ud83d\\ude00", "labels": ["a", "b"], "epsilon": 1.5e-1}'
    response = _send(client, "POST", "/api/v1/projects", body, admin)
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "emoji \U0001f600"
    assert response.json()["epsilon"] == 0.15


# --- imports ---------------------------------------------------------------------------------

IMPORTS = [
    # (file name, body, the words of the error)
    (
        "x.jsonl",
        '{"text": "ok"}\n{"text": "fine", "label": NaN}\n',
        'row 2 (line 2): field "label"',
    ),
    ("x.jsonl", '{"text": "ok", "score": 1e400}\n', 'row 1 (line 1): field "score"'),
    ("x.jsonl", '{"text": "ok"}\n\n{"text": "a\\ud800"}\n', 'row 2 (line 3): field "text"'),
    ("x.jsonl", '{"text": "ok", "label": ["food", "\\udc00"]}\n', 'row 1 (line 1): field "label"'),
    ("x.json", '[{"text": "ok"}, {"text": "fine", "label": NaN}]', 'row 2: field "label"'),
    ("x.json", '[{"text": "ok", "label": -Infinity}]', 'row 1: field "label"'),
    ("x.json", '[{"text": "ok"}, {"text": "a", "n": 1e400}]', 'row 2: field "n"'),
    ("x.json", '[{"text": "ok"}, {"text": "a\\ud800b"}]', 'row 2: field "text"'),
    ("x.json", '[{"text": "ok"}, {"text": "b", "label": "\\udc00"}]', 'row 2: field "label"'),
]
IMPORT_PROBLEMS = {
    "NaN": "NaN",
    "Infinity": "Infinity",
    "1e400": "too large for a float",
    "\\ud800": "lone surrogate U+D800",
    "\\udc00": "lone surrogate U+DC00",
}


@pytest.mark.parametrize(("name", "data", "where"), IMPORTS)
def test_bad_values_in_an_import_are_refused_naming_row_and_field(
    client: TestClient, db: Database, admin: str, name: str, data: str, where: str
) -> None:
    project = create_project(db, labels=["food", "sports"], n_items=3, n_labeled=1)
    before = snapshot(db)
    response = client.post(
        f"/api/v1/projects/{project.id}/imports",
        files={"file": (name, data.encode(), "application/octet-stream")},
        headers=auth(admin),
    )
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail.startswith(where), detail
    (problem,) = (words for key, words in IMPORT_PROBLEMS.items() if key in data)
    assert problem in detail, detail
    assert snapshot(db) == before


def test_a_background_json_import_with_a_lone_surrogate_fails_and_imports_nothing(
    client: TestClient, db: Database, admin: str
) -> None:
    project = create_project(db, n_items=2)
    before = snapshot(db)
    rows = [f'{{"text": "row {i}"}}' for i in range(2000)] + ['{"text": "bad \\ud800"}']
    response = client.post(
        f"/api/v1/projects/{project.id}/imports",
        params={"background": "true"},
        files={"file": ("x.json", f"[{', '.join(rows)}]".encode(), "application/json")},
        headers=auth(admin),
    )
    assert response.status_code == 202, response.text
    url = response.headers["Location"]
    deadline = time.monotonic() + 60
    while (job := client.get(url, headers=auth(admin)).json())["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.05)  # polling interval, not synchronisation
    assert job["status"] == "failed"
    assert job["error"].startswith('row 2001: field "text": lone surrogate U+D800'), job
    assert snapshot(db) == before


# --- look-alike labels and names -------------------------------------------------------------

LOOK_ALIKES = [
    # (labels, the words of the error)
    (["spam", "sp\u200bam"], "U+200B"),
    (["spam", "spam\u202e"], "U+202E"),
    (["ham", "\u2066spam"], "U+2066"),
    (["spam", "a\u00adb"], "U+00AD"),
    (["spam", "SPAM"], "differ only in case or form"),
    (["spam", "\uff53\uff50\uff41\uff4d"], "differ only in case or form"),
    (["Straße", "STRASSE"], "differ only in case or form"),
    (["café", "cafe\u0301"], "listed twice"),
]


@pytest.mark.parametrize(("labels", "words"), LOOK_ALIKES)
def test_look_alike_labels_are_refused(
    client: TestClient, db: Database, admin: str, labels: list[str], words: str
) -> None:
    response = client.post(
        "/api/v1/projects", json={"name": "mail", "labels": labels}, headers=auth(admin)
    )
    assert response.status_code == 422, response.text
    (problem,) = response.json()["detail"]
    assert problem["loc"][:2] == ["body", "labels"] and words in problem["msg"], problem
    assert _count(db, Project) == 0


@pytest.mark.parametrize("name", ["mail\u200b", "\u202eliam", "ma\x07il", "mail\u2028box"])
def test_project_names_with_invisible_characters_are_refused(
    client: TestClient, db: Database, admin: str, name: str
) -> None:
    response = client.post(
        "/api/v1/projects", json={"name": name, "labels": ["a", "b"]}, headers=auth(admin)
    )
    assert response.status_code == 422, response.text
    (problem,) = response.json()["detail"]
    assert problem["loc"] == ["body", "name"]
    assert f"U+{ord(next(c for c in name if not c.isalpha())):04X}" in problem["msg"]
    assert _count(db, Project) == 0


def test_names_and_labels_are_stored_in_nfc(client: TestClient, db: Database, admin: str) -> None:
    body = {"name": " cafe\u0301s ", "labels": ["cafe\u0301", "the\u0301"]}
    response = client.post("/api/v1/projects", json=body, headers=auth(admin))
    assert response.status_code == 201, response.text
    with db.reader() as session:
        project = session.scalars(select(Project)).one()
        assert (project.name, project.labels) == ("cafés", ["café", "thé"])


def test_an_annotation_label_matches_the_project_label_after_nfc(
    client: TestClient, db: Database
) -> None:
    project = create_project(db, labels=["café", "thé"], n_items=3)
    ids = _item_ids(db, project.id)
    _, token = create_user(db, name="ann", role="annotator")
    url = f"/api/v1/projects/{project.id}/annotations"
    response = client.post(
        url, json={"item_id": ids[0], "label": "cafe\u0301"}, headers=auth(token)
    )
    assert response.status_code == 201, response.text
    assert response.json()["labels"] == ["café"]
    bulk = {"annotations": [{"item_id": ids[1], "label": "the\u0301"}]}
    response = client.post(f"{url}/bulk", json=bulk, headers=auth(token))
    assert response.status_code == 200, response.text
    with db.reader() as session:
        stored = session.scalars(select(Annotation.labels).order_by(Annotation.item_id)).all()
    assert stored == [["café"], ["thé"]]


# --- the web surface -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "form",
    [
        b"name=a%ED%A0%80b&labels=x%0Ay",  # percent-encoded surrogate bytes
        b"name=a\xed\xa0\x80b&labels=x%0Ay",  # raw surrogate bytes
        b"name=ok&labels=x%0Ay%ED%B0%80",
    ],
)
def test_web_forms_with_surrogate_bytes_cannot_store_them(
    client: TestClient, db: Database, form: bytes
) -> None:
    token = sign_in(client, db)
    headers = {"X-CSRF-Token": token, "Content-Type": "application/x-www-form-urlencoded"}
    response = client.post("/projects", content=form, headers=headers, follow_redirects=False)
    assert response.status_code in (303, 422), response.text
    with db.reader() as session:
        for name, labels in session.execute(select(Project.name, Project.labels)):
            for text in (name, *labels):
                text.encode("utf-8")  # no surrogate was stored


def test_web_form_look_alike_labels_are_refused(client: TestClient, db: Database) -> None:
    token = sign_in(client, db)
    response = client.post(
        "/projects",
        data={"name": "mail", "labels": "spam\nSPAM"},
        headers={"X-CSRF-Token": token},
        follow_redirects=False,
    )
    assert response.status_code == 422, response.text
    assert "differ only in case or form" in response.text
    assert _count(db, Project) == 0
