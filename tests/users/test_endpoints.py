"""``/api/v1/me`` and ``/api/v1/users``: tokens that can be listed, expire and be revoked;
accounts that can be disabled, re-enabled, reset and deleted."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from app.db import Database
from app.models import Annotation, ApiToken, AuditEvent, User
from app.models.base import utcnow
from app.users import service
from tests.factories import auth, create_project, create_user


def _user(db: Database, name: str, role: str = "annotator") -> tuple[int, str]:
    with db.writer() as session, session.begin():
        user, token = service.create_user(session, name=name, role=role, password=f"{name}-pw-123")
        return user.id, token


def _works(client: TestClient, token: str) -> bool:
    status = client.get("/api/v1/me", headers=auth(token)).status_code
    assert status in (200, 401)
    return status == 200


def test_minting_needs_the_password_and_lists_without_secrets(
    client: TestClient, db: Database
) -> None:
    _, token = _user(db, "ada")
    wrong = client.post(
        "/api/v1/me/tokens", json={"name": "ci", "password": "nope"}, headers=auth(token)
    )
    assert wrong.status_code == 422 and "password is wrong" in wrong.json()["detail"]
    made = client.post(
        "/api/v1/me/tokens",
        json={"name": "ci", "password": "ada-pw-123", "expires_days": 30},
        headers=auth(token),
    )
    assert made.status_code == 201, made.text
    value = made.json()["value"]
    assert _works(client, value)
    listed = client.get("/api/v1/me/tokens", headers=auth(value)).json()
    assert [t["name"] for t in listed] == ["ci", "default"]
    assert listed[0]["expires_at"] is not None and listed[1]["expires_at"] is None
    assert value not in str(listed) and "token_hash" not in str(listed)
    assert listed[0]["last_used_at"] is not None  # it was just used to list


def test_an_expired_or_revoked_token_gets_401(client: TestClient, db: Database) -> None:
    _, first = _user(db, "ada")
    second = client.post(
        "/api/v1/me/tokens", json={"name": "two", "password": "ada-pw-123"}, headers=auth(first)
    ).json()
    with db.writer() as session, session.begin():
        session.execute(
            update(ApiToken)
            .where(ApiToken.name == "default")
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert not _works(client, first)
    gone = client.delete(
        f"/api/v1/me/tokens/{second['token']['id']}", headers=auth(second["value"])
    )
    assert gone.status_code == 204
    assert not _works(client, second["value"])


def test_another_users_token_is_a_404_and_admins_revoke_anyones(
    client: TestClient, db: Database
) -> None:
    ada_id, ada = _user(db, "ada")
    _, bo = _user(db, "bo")
    _, admin = create_user(db, name="root")
    ada_token_id = client.get("/api/v1/me/tokens", headers=auth(ada)).json()[0]["id"]
    assert client.delete(f"/api/v1/me/tokens/{ada_token_id}", headers=auth(bo)).status_code == 404
    assert _works(client, ada)
    listed = client.get(f"/api/v1/users/{ada_id}/tokens", headers=auth(admin)).json()
    assert [t["id"] for t in listed] == [ada_token_id]
    revoked = client.delete(f"/api/v1/users/{ada_id}/tokens/{ada_token_id}", headers=auth(admin))
    assert revoked.status_code == 204
    assert not _works(client, ada)


def test_a_reset_can_revoke_every_token(client: TestClient, db: Database) -> None:
    ada_id, ada = _user(db, "ada")
    _, admin = create_user(db, name="root")
    kept = client.post(
        f"/api/v1/users/{ada_id}/password", json={"password": "reset-pw-1"}, headers=auth(admin)
    )
    assert kept.status_code == 204 and _works(client, ada)
    revoked = client.post(
        f"/api/v1/users/{ada_id}/password",
        json={"password": "reset-pw-2", "revoke_tokens": True},
        headers=auth(admin),
    )
    assert revoked.status_code == 204 and not _works(client, ada)
    with db.writer() as session, session.begin():
        assert service.authenticate(session, "ada", "reset-pw-2") is not None


def test_disable_enable_and_delete(client: TestClient, db: Database) -> None:
    ada_id, ada = _user(db, "ada")
    _, admin = create_user(db, name="root")
    project = create_project(db, n_items=3)
    label = client.post(
        f"/api/v1/projects/{project.id}/annotations",
        json={"item_id": _unlabelled(client, project.id, ada), "label": "sports"},
        headers=auth(ada),
    )
    assert label.status_code == 201, label.text
    patch = client.patch(f"/api/v1/users/{ada_id}", json={"disabled": True}, headers=auth(admin))
    assert patch.status_code == 200 and patch.json()["disabled"] is True
    assert not _works(client, ada)
    client.patch(f"/api/v1/users/{ada_id}", json={"disabled": False}, headers=auth(admin))
    assert _works(client, ada)
    assert client.delete(f"/api/v1/users/{ada_id}", headers=auth(admin)).status_code == 204
    assert not _works(client, ada)
    names = [u["name"] for u in client.get("/api/v1/users", headers=auth(admin)).json()]
    assert "ada" not in names
    with db.reader() as session:  # the label stays, attributed to the deleted account
        kept = session.scalars(select(Annotation).where(Annotation.user_id == ada_id)).all()
        assert len(kept) == 1
        actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert [a for a in actions if a.startswith("user.") and a != "user.create"] == [
        "user.disable",
        "user.enable",
        "user.delete",
    ]


def _unlabelled(client: TestClient, project_id: int, token: str) -> int:
    queue = client.get(f"/api/v1/projects/{project_id}/queue", headers=auth(token)).json()
    return queue["items"][0]["id"]


def test_admins_cannot_lock_themselves_out(client: TestClient, db: Database) -> None:
    admin_user, admin = create_user(db, name="root")
    own = client.patch(
        f"/api/v1/users/{admin_user.id}", json={"disabled": True}, headers=auth(admin)
    )
    assert own.status_code == 422 and "your own account" in own.json()["detail"]
    assert client.delete(f"/api/v1/users/{admin_user.id}", headers=auth(admin)).status_code == 422
    assert _works(client, admin)


def test_api_only_accounts_and_own_password_change(client: TestClient, db: Database) -> None:
    _, admin = create_user(db, name="root")
    made = client.post("/api/v1/users", json={"name": "bot"}, headers=auth(admin))
    assert made.status_code == 201 and made.json()["user"]["has_password"] is False
    _, ada = _user(db, "ada")
    body = {"current_password": "wrong-pw", "new_password": "another-pw"}
    assert client.post("/api/v1/me/password", json=body, headers=auth(ada)).status_code == 422
    body["current_password"] = "ada-pw-123"
    assert client.post("/api/v1/me/password", json=body, headers=auth(ada)).status_code == 204
    with db.reader() as session:
        assert session.scalar(select(User.password_hash).where(User.name == "ada"))
    assert _works(client, ada)  # tokens outlive a password change (a reset may revoke them)


def test_a_deleted_users_name_is_free_and_its_history_stays_its_own(
    client: TestClient, db: Database
) -> None:
    old_id, old = _user(db, "outsider")
    _, admin = create_user(db, name="root")
    project = create_project(db, n_items=3)
    item_id = _unlabelled(client, project.id, old)
    url = f"/api/v1/projects/{project.id}/annotations"
    client.post(url, json={"item_id": item_id, "label": "sports"}, headers=auth(old))
    assert client.delete(f"/api/v1/users/{old_id}", headers=auth(admin)).status_code == 204
    again = client.post(
        "/api/v1/users", json={"name": "outsider", "role": "annotator"}, headers=auth(admin)
    )
    assert again.status_code == 201, again.text
    new_id = again.json()["user"]["id"]
    assert new_id != old_id
    with db.reader() as session:
        gone = session.get_one(User, old_id)
        assert gone.name == f"outsider (deleted #{old_id})" and gone.deleted_at is not None
        labelled = session.scalars(select(Annotation.user_id)).all()
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "user.delete")).one()
    assert labelled == [old_id]  # the label stays the deleted account's, not the new one's
    assert (event.target, event.detail) == ("outsider", {"renamed": gone.name})
    names = [u["name"] for u in client.get("/api/v1/users", headers=auth(admin)).json()]
    assert names.count("outsider") == 1 and gone.name not in names


def test_a_name_a_deleted_user_still_holds_is_refused_saying_so(
    client: TestClient, db: Database
) -> None:
    old_id, _ = _user(db, "legacy")
    _, admin = create_user(db, name="root")
    with db.writer() as session, session.begin():  # deleted before deletion freed names
        session.execute(update(User).where(User.id == old_id).values(deleted_at=utcnow()))
    taken = client.post(
        "/api/v1/users", json={"name": "legacy", "role": "annotator"}, headers=auth(admin)
    )
    assert taken.status_code == 409 and "deleted user" in taken.json()["detail"]
