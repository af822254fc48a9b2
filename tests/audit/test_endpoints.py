"""The audit log through the API: admins only, filters, keyset pages, and the events that
imports, exports, project settings and hand-started training leave (with actor and address)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.audit.service import Actor, record
from app.db import Database
from app.models import AuditEvent, User
from tests.factories import auth, create_project, create_user

CSV = b"id,text,label\n1,the pasta was great,food\n2,rain all day,weather\n3,a late goal,\n"


def _events(client: TestClient, token: str, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/api/v1/audit", params=params, headers=auth(token))
    assert response.status_code == 200, response.text
    return response.json()["events"]


def _only(client: TestClient, token: str, action: str) -> dict[str, Any]:
    (event,) = _events(client, token, action=action)
    return event


def test_only_admins_read_the_audit_log(client: TestClient, db: Database) -> None:
    _, annotator = create_user(db, name="ann", role="annotator")
    assert client.get("/api/v1/audit").status_code == 401
    refused = client.get("/api/v1/audit", headers=auth(annotator))
    assert refused.status_code == 403


def test_project_create_and_update_name_actor_address_and_changes(
    client: TestClient, db: Database
) -> None:
    _, admin = create_user(db)
    body = {"name": "news", "labels": ["a", "b"], "strategy": "margin", "batch_size": 10}
    pid = client.post("/api/v1/projects", json=body, headers=auth(admin)).json()["id"]
    created = _only(client, admin, "project.create")
    assert (created["actor"], created["address"]) == ("admin", "testclient")
    assert (created["project_id"], created["target"]) == (pid, "news")
    assert created["detail"]["labels"] == 2 and created["detail"]["strategy"] == "margin"

    url = f"/api/v1/projects/{pid}"
    change = {"strategy": "entropy", "batch_size": 10, "epsilon": 0.1}
    assert client.patch(url, json=change, headers=auth(admin)).status_code == 200
    updated = _only(client, admin, "project.update")
    assert updated["actor"] == "admin" and updated["project_id"] == pid
    assert updated["detail"] == {
        "changes": {
            "strategy": {"old": "margin", "new": "entropy"},
            "epsilon": {"old": 0.0, "new": 0.1},
        }
    }
    client.patch(url, json=change, headers=auth(admin))  # changes nothing: no event
    assert len(_events(client, admin, action="project.update")) == 1


def test_imports_exports_and_training_are_recorded(client: TestClient, db: Database) -> None:
    _, admin = create_user(db)
    _, annotator = create_user(db, name="ann", role="annotator")
    project = create_project(db)
    base = f"/api/v1/projects/{project.id}"
    files = {"file": ("labels.csv", CSV, "text/csv")}
    assert client.post(f"{base}/imports", files=files, headers=auth(admin)).status_code == 201
    imported = _only(client, admin, "import")
    assert (imported["actor"], imported["address"], imported["project_id"]) == (
        "admin",
        "testclient",
        project.id,
    )
    assert imported["detail"] == {"file": "labels.csv", "format": "csv", "rows": 3, "import_id": 1}

    export = client.get(f"{base}/export", params={"format": "jsonl"}, headers=auth(annotator))
    assert export.status_code == 200
    exported = _only(client, admin, "export")
    assert exported["actor"] == "ann"
    # an annotator exports only their own rows, and the event says so
    assert exported["detail"] == {"format": "jsonl", "labelled_items": 2, "own_rows": True}

    run = client.post(f"{base}/train", headers=auth(admin)).json()
    trained = _only(client, admin, "train")
    assert trained["actor"] == "admin" and trained["detail"] == {"run_id": run["id"]}


def test_background_import_is_recorded_when_queued(client: TestClient, db: Database) -> None:
    _, admin = create_user(db)
    project = create_project(db)
    response = client.post(
        f"/api/v1/projects/{project.id}/imports",
        params={"background": "true"},
        files={"file": ("big.csv", CSV, "text/csv")},
        headers=auth(admin),
    )
    assert response.status_code == 202
    detail = _only(client, admin, "import")["detail"]
    assert detail == {
        "file": "big.csv",
        "format": "csv",
        "job_id": response.json()["id"],
        "bytes": len(CSV),
        "background": True,
    }


def test_a_refused_import_leaves_no_event(client: TestClient, db: Database) -> None:
    _, admin = create_user(db)
    project = create_project(db)
    bad = b"text,label\nfine,food\nodd,music\n"
    files = {"file": ("bad.csv", bad, "text/csv")}
    response = client.post(
        f"/api/v1/projects/{project.id}/imports", files=files, headers=auth(admin)
    )
    assert response.status_code == 422
    assert _events(client, admin, action="import") == []


def _seed(db: Database) -> list[int]:
    """Six events: two sign-ins, a user change, two imports in two projects, a CLI one."""
    with db.writer() as session, session.begin():
        ada, bob = (
            session.scalars(select(User).where(User.name == n)).one() for n in ("ada", "bob")
        )
        web = [Actor(ada, "10.0.0.1"), Actor(bob, "10.0.0.2")]
        record(session, web[0], "signin.ok")
        record(session, web[1], "signin.ok")
        record(session, web[0], "user.disable", target="bob")
        record(session, web[0], "import", project_id=7, detail={"rows": 1})
        record(session, web[1], "import", project_id=8, detail={"rows": 2})
        record(session, Actor(None, "cli"), "user.create", target="carl")
        session.flush()
        return list(session.scalars(select(AuditEvent.id).order_by(AuditEvent.id)))


def test_filters_by_action_prefix_actor_project_and_time(client: TestClient, db: Database) -> None:
    _, admin = create_user(db, name="ada")
    create_user(db, name="bob", role="annotator")
    ids = _seed(db)
    newest_first = list(reversed(ids))
    assert [e["id"] for e in _events(client, admin)] == newest_first
    assert [e["id"] for e in _events(client, admin, action="import")] == [ids[4], ids[3]]
    assert [e["id"] for e in _events(client, admin, action="user.")] == [ids[5], ids[2]]
    assert _events(client, admin, action="user") == []  # no dot: exact
    assert [e["id"] for e in _events(client, admin, actor="bob")] == [ids[4], ids[1]]
    assert [e["id"] for e in _events(client, admin, project_id=8)] == [ids[4]]
    assert [e["id"] for e in _events(client, admin, action="import", actor="ada")] == [ids[3]]
    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    assert _events(client, admin, since=later) == []
    earlier = (datetime.now(UTC) - timedelta(minutes=1)).replace(tzinfo=None).isoformat()
    assert len(_events(client, admin, since=earlier)) == len(ids)
    assert _events(client, admin, action="%.") == []  # LIKE wildcards are plain text
    out_of_range = {"since": "0001-01-01T00:00:00+01:00"}
    response = client.get("/api/v1/audit", params=out_of_range, headers=auth(admin))
    assert response.status_code == 422


def test_keyset_pages_walk_every_event_once(client: TestClient, db: Database) -> None:
    _, admin = create_user(db, name="ada")
    create_user(db, name="bob", role="annotator")
    ids = _seed(db)
    seen: list[int] = []
    params: dict[str, Any] = {"limit": 4}
    while True:
        page = client.get("/api/v1/audit", params=params, headers=auth(admin)).json()
        assert len(page["events"]) <= 4
        seen += [e["id"] for e in page["events"]]
        if page["next"] is None:
            break
        params["before_id"] = page["next"]
    assert seen == list(reversed(ids))
    too_many = client.get("/api/v1/audit", params={"limit": 501}, headers=auth(admin))
    assert too_many.status_code == 422
