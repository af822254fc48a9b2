"""An export imported into a new project of the same shape gives back its items, their ids
and labels: the export's own columns are read, and the CSV formula guard is taken off."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.db import Database
from app.models import Annotation, Item
from tests.factories import auth, create_project, create_user
from tests.items.importing import upload
from tests.items.test_shaped import _jsonl

ROWS = [
    {"id": "a1", "text": "=SUM(1+1)", "label": "food"},
    {"id": "-7", "text": "-1 for the pasta", "label": "food"},
    {"text": "@everyone it rains", "label": "weather"},
    {"id": "a4", "text": "'=already quoted", "label": "sports"},
    {"id": "a5", "text": "a plain text", "label": "weather"},
]


def _contents(db: Database, project_id: int) -> list[tuple[Any, ...]]:
    """Each item's id, text and labels, in import order."""
    with db.reader() as session:
        rows = session.execute(
            select(Item.external_id, Item.text, Annotation.labels)
            .outerjoin(Annotation, Annotation.item_id == Item.id)
            .where(Item.project_id == project_id)
            .order_by(Item.id)
        )
        return [tuple(row) for row in rows]


@pytest.mark.parametrize("multi_label", [False, True], ids=["single-label", "multi-label"])
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_an_export_imports_back_as_it_was(
    client: TestClient, db: Database, fmt: str, multi_label: bool
) -> None:
    admin = create_user(db)[1]
    project = create_project(db, name="first", multi_label=multi_label)
    rows = [dict(row) for row in ROWS]
    if multi_label:
        rows[0]["label"] = ["food", "weather"]
    assert upload(client, project.id, admin, "rows.jsonl", _jsonl(rows)).status_code == 201
    url = f"/api/v1/projects/{project.id}/export?format={fmt}"
    exported = client.get(url, headers=auth(admin))
    assert exported.status_code == 200
    again = create_project(db, name="again", multi_label=multi_label)
    back = upload(client, again.id, admin, f"export.{fmt}", exported.content)
    assert back.status_code == 201, back.text
    assert back.json()["imported"] == len(ROWS) and back.json()["labeled"] == len(ROWS)
    assert _contents(db, again.id) == _contents(db, project.id)


def test_an_item_labelled_two_ways_imports_back_with_its_final_label(
    client: TestClient, db: Database
) -> None:
    admin = create_user(db)[1]
    project = create_project(db, name="first")
    data = b"id,text,label\na1,hello there,food\na2,other text,sports\n"
    assert upload(client, project.id, admin, "rows.csv", data).status_code == 201
    item = _item_id(db, project.id, "a1")
    relabel = {"item_id": item, "label": "weather"}
    url = f"/api/v1/projects/{project.id}/annotations"
    assert client.post(url, json=relabel, headers=auth(admin)).status_code == 201
    exported = client.get(f"/api/v1/projects/{project.id}/export?format=csv", headers=auth(admin))
    again = create_project(db, name="again")
    refused = upload(client, again.id, admin, "export.csv", exported.content)
    assert refused.status_code == 422
    assert refused.json()["detail"].startswith("row 3 (line 4): labelled 'weather', but row 1")
    back = upload(
        client, again.id, admin, "export.csv", exported.content, label_field="final_label"
    )
    assert back.status_code == 201, back.text
    final = {r["item_id"]: r["final_label"] for r in _csv_rows(exported.text)}
    assert final[str(item)] == ""  # the member's other label put it in review: no final label
    assert final[str(_item_id(db, project.id, "a2"))] == "sports"
    assert [labels for _, _, labels in _contents(db, again.id)] == [None, ["sports"]]


def _item_id(db: Database, project_id: int, external_id: str) -> int:
    with db.reader() as session:
        found = select(Item.id).where(
            Item.project_id == project_id, Item.external_id == external_id
        )
        return session.scalars(found).one()


def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))
