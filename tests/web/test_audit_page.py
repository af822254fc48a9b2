"""The audit log screen (admins only: filters, older pages) and the events the web's own
imports, exports, settings changes and training leave."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.audit.service import CLI, record
from app.db import Database
from app.models import AuditEvent
from app.web.audit import PAGE_SIZE
from tests.factories import create_project
from tests.security.conftest import sign_in


def _events(db: Database, action: str) -> list[AuditEvent]:
    with db.reader() as session:
        stmt = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        return list(session.scalars(stmt))


def test_annotators_get_no_audit_page_nor_link(client: TestClient, db: Database) -> None:
    sign_in(client, db, name="bo", role="annotator")
    assert 'href="/audit"' not in client.get("/").text
    assert client.get("/audit").status_code == 403


def test_admin_filters_and_pages_to_older_events(client: TestClient, db: Database) -> None:
    sign_in(client, db)
    assert 'href="/audit"' in client.get("/").text
    with db.writer() as session, session.begin():
        for i in range(2 * (PAGE_SIZE + 5)):
            record(session, CLI, "seed.one" if i % 2 else "other", target=f"t{i}")
    first = client.get("/audit", params={"action": "seed."})
    assert first.status_code == 200
    assert 'value="seed."' in first.text and "<code>other</code>" not in first.text
    older = re.search(r'data-testid="older" href="([^"]+)"', first.text)
    assert older, "a full page links to the older events"
    rest = client.get(older.group(1).replace("&amp;", "&"))
    assert rest.status_code == 200 and "<code>other</code>" not in rest.text
    pages = [len(re.findall(r"<code>seed\.one</code>", page.text)) for page in (first, rest)]
    assert pages == [PAGE_SIZE, 5] and 'data-testid="older"' not in rest.text
    none = client.get("/audit", params={"actor": "nobody"})
    assert "No events match the filter" in none.text


def test_web_actions_are_recorded_with_actor_and_address(client: TestClient, db: Database) -> None:
    project = create_project(db)
    token = sign_in(client, db)
    htmx = {"X-CSRF-Token": token, "HX-Request": "true"}
    preview = client.post(
        f"/projects/{project.id}/import/preview",
        files={"file": ("my labels.csv", b"text,label\nhello,food\nrain,weather\n", "text/csv")},
        headers=htmx,
    )
    upload_id = re.search(r'name="upload_id" value="([^"]+)"', preview.text)
    assert upload_id and 'name="filename" value="my labels.csv"' in preview.text
    form = {"upload_id": upload_id.group(1), "text_field": "text", "label_field": "label"}
    form["filename"] = "my labels.csv"
    imported = client.post(f"/projects/{project.id}/import", data=form, headers=htmx)
    assert imported.status_code == 200 and 'data-testid="imported">2<' in imported.text
    settings = {"strategy": "entropy", "batch_size": "10"}
    client.post(f"/projects/{project.id}/settings", data=settings, headers=htmx)
    client.post(f"/projects/{project.id}/train", headers=htmx)
    assert client.get(f"/projects/{project.id}/export.csv").status_code == 200

    (event,) = _events(db, "import")
    assert (event.actor_name, event.address, event.project_id) == ("ada", "testclient", project.id)
    assert event.detail == {"file": "my labels.csv", "format": "csv", "rows": 2, "import_id": 1}
    (update,) = _events(db, "project.update")
    assert update.actor_name == "ada"
    assert update.detail == {"changes": {"strategy": {"old": "margin", "new": "entropy"}}}
    assert [e.actor_name for e in _events(db, "train")] == ["ada"]
    (export,) = _events(db, "export")
    assert export.actor_name == "ada" and export.detail == {"format": "csv", "labelled_items": 2}
    page = client.get("/audit").text
    assert "strategy: margin → entropy" in page and "file: my labels.csv" in page
