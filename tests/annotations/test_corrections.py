"""Corrections of a translation review: stored with the label, checked, kept in the history."""

from __future__ import annotations

import json
import unicodedata

from fastapi.testclient import TestClient

from app.annotations.service import MAX_CORRECTION
from app.db import Database
from tests.factories import auth, create_user

ROWS = [
    {"source": "Good night", "translation": "Bonjour"},
    {"source": "Thank you", "translation": "Merci"},
]


def _project(client: TestClient, token: str, **body: object) -> str:
    created = client.post("/api/v1/projects", json={"name": "mt", **body}, headers=auth(token))
    url = f"/api/v1/projects/{created.json()['id']}"
    data = "".join(json.dumps(r) + "\n" for r in ROWS).encode()
    imported = client.post(
        f"{url}/imports", files={"file": ("r.jsonl", data, "x")}, headers=auth(token)
    )
    assert imported.status_code == 201, imported.text
    return url


def test_a_correction_is_stored_replaced_and_kept_in_history(
    client: TestClient, db: Database
) -> None:
    _, admin = create_user(db, role="admin")
    url = _project(client, admin, task="translation_review")
    item = client.get(f"{url}/items", headers=auth(admin)).json()["items"][0]["id"]
    body = {"item_id": item, "label": "mistranslation", "correction": "  Bonne nuit "}
    first = client.post(f"{url}/annotations", json=body, headers=auth(admin))
    assert first.status_code == 201 and first.json()["correction"] == "Bonne nuit"
    decomposed = unicodedata.normalize("NFD", "Bonne soirée")
    second = client.post(
        f"{url}/annotations", json={**body, "correction": decomposed}, headers=auth(admin)
    )
    assert second.status_code == 200 and second.json()["correction"] == "Bonne soirée"
    history = client.get(f"{url}/items/{item}/history", headers=auth(admin)).json()
    assert history["current"][0]["correction"] == "Bonne soirée"
    assert history["history"][0]["correction"] == "Bonne nuit"
    assert history["history"][0]["labels"] == ["mistranslation"]


def test_bad_corrections_are_refused_naming_the_field(client: TestClient, db: Database) -> None:
    _, admin = create_user(db, role="admin")
    url = _project(client, admin, task="translation_review")
    item = client.get(f"{url}/items", headers=auth(admin)).json()["items"][0]["id"]
    body = {"item_id": item, "label": "ok"}
    too_long = {**body, "correction": "x" * (MAX_CORRECTION + 1)}
    assert client.post(f"{url}/annotations", json=too_long, headers=auth(admin)).status_code == 422
    nul = client.post(
        f"{url}/annotations", json={**body, "correction": "a\x00"}, headers=auth(admin)
    )
    assert nul.status_code == 422 and "correction" in nul.text
    bulk = {"annotations": [body, {"item_id": item + 1, "label": "ok", "correction": "y" * 10}]}
    assert client.post(f"{url}/annotations/bulk", json=bulk, headers=auth(admin)).status_code == 200
    history = client.get(f"{url}/items/{item + 1}/history", headers=auth(admin)).json()
    assert history["current"][0]["correction"] == "y" * 10


def test_a_classification_project_takes_no_correction(client: TestClient, db: Database) -> None:
    _, admin = create_user(db, role="admin")
    url = _project(client, admin, labels=["a", "b"], fields=["source", "translation"])
    item = client.get(f"{url}/items", headers=auth(admin)).json()["items"][0]["id"]
    body = {"annotations": [{"item_id": item, "label": "a", "correction": "z"}]}
    refused = client.post(f"{url}/annotations/bulk", json=body, headers=auth(admin))
    assert refused.status_code == 422
    assert refused.json()["detail"].startswith("annotations[0]: correction: only translation")
    assert client.get(f"{url}/items/{item}/history", headers=auth(admin)).json()["current"] == []
