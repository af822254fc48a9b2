"""R2: a label sent after its lease expired has one outcome: it is the sender's own annotation.

Leases are expired by moving ``expires_at`` into the past (no waiting on a clock).
"""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from app.db import Database
from app.models import Annotation, Lease, User
from app.models.base import utcnow
from app.queue.service import SETTLED
from tests.factories import auth, create_project, create_user


def _expire_leases(db: Database) -> None:
    with db.writer() as session, session.begin():
        session.execute(update(Lease).where(Lease.expires_at < SETTLED).values(expires_at=utcnow()))


def _queue(client: TestClient, pid: int, token: str) -> list[int]:
    response = client.get(f"/api/v1/projects/{pid}/queue?limit=1", headers=auth(token))
    assert response.status_code == 200
    return [item["id"] for item in response.json()["items"]]


def _label(client: TestClient, pid: int, token: str, item_id: int, label: str):
    return client.post(
        f"/api/v1/projects/{pid}/annotations",
        json={"item_id": item_id, "label": label},
        headers=auth(token),
    )


def _rows(db: Database, item_id: int) -> list[tuple[str, list[str]]]:
    with db.reader() as session:
        rows = session.execute(
            select(User.name, Annotation.labels)
            .join(User, User.id == Annotation.user_id)
            .where(Annotation.item_id == item_id)
            .order_by(User.name)
        )
        return [(name, labels) for name, labels in rows]


def test_late_label_on_an_item_nobody_took_is_accepted(client: TestClient, db: Database) -> None:
    project = create_project(db, n_items=3)
    _, ann = create_user(db, name="ann", role="annotator")
    (item,) = _queue(client, project.id, ann)
    _expire_leases(db)
    late = _label(client, project.id, ann, item, "food")
    assert late.status_code == 201
    assert _rows(db, item) == [("ann", ["food"])]
    with db.reader() as session:
        assert session.get_one(Lease, (item, 0)).expires_at == SETTLED  # never served again


def test_late_label_after_someone_else_took_the_item(client: TestClient, db: Database) -> None:
    project = create_project(db, n_items=1)
    _, ann = create_user(db, name="ann", role="annotator")
    _, bob = create_user(db, name="bob", role="annotator")
    (item,) = _queue(client, project.id, ann)
    assert _queue(client, project.id, bob) == []  # leased to ann
    _expire_leases(db)
    assert _queue(client, project.id, bob) == [item]  # the abandoned lease is offered again

    # ann comes back late: her label is stored as hers, and bob's lease on it ends.
    assert _label(client, project.id, ann, item, "food").status_code == 201
    assert _queue(client, project.id, bob) == []
    # bob labels what was on his screen anyway: his own annotation, next to ann's.
    assert _label(client, project.id, bob, item, "sports").status_code == 201
    # ann retries: it replaces her row, never a second one.
    assert _label(client, project.id, ann, item, "weather").status_code == 200
    assert _rows(db, item) == [("ann", ["weather"]), ("bob", ["sports"])]
    _, admin = create_user(db)  # an annotator would export only their own rows
    export = client.get(f"/api/v1/projects/{project.id}/export", headers=auth(admin)).text
    exported = [(r["annotator"], r["label"]) for r in csv.DictReader(io.StringIO(export))]
    assert sorted(exported) == [("ann", "weather"), ("bob", "sports")]
