"""Web sessions live on the server: signing out, a password change or reset, and disabling
end them at once, whatever a copied cookie says; idle and absolute lifetimes are enforced."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from app.audit.service import CLI
from app.db import Database
from app.models import WebSession
from app.models.base import utcnow
from app.users import service
from app.users.service import _DUMMY_PASSWORD
from tests.security.conftest import csrf

COOKIE = "labelloop_session"


def _signed_in(client: TestClient, db: Database, name: str, role: str = "annotator") -> str:
    """Sign ``name`` in on ``client``; returns a copy of the session cookie."""
    with db.writer() as session, session.begin():
        if service.get_by_name(session, name) is None:
            service.create_user(session, name=name, role=role, password=f"{name}-password")
    form = {"username": name, "password": f"{name}-password", "csrf_token": csrf(client)}
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303
    cookie = client.cookies.get(COOKIE)
    assert cookie
    return cookie


def _with_cookie(client: TestClient, cookie: str) -> int:
    """GET /account with only ``cookie``: 200 while its session lives, 303 to sign in after."""
    client.cookies.clear()
    page = client.get("/account", headers={"Cookie": f"{COOKIE}={cookie}"}, follow_redirects=False)
    client.cookies.clear()
    assert page.status_code in (200, 303)
    if page.status_code == 303:
        assert page.headers["location"] == "/login?next=/account"
    return page.status_code


def test_a_copied_cookie_stops_working_after_sign_out(client: TestClient, db: Database) -> None:
    copy = _signed_in(client, db, "ada")
    token = csrf(client, "/account")
    assert client.post("/logout", headers={"X-CSRF-Token": token}).status_code == 200
    assert _with_cookie(client, copy) == 303


def _reset(db: Database, user_id: int) -> None:
    with db.writer() as session, session.begin():
        user = service.get_user(session, user_id)
        service.reset_password(session, user, "reset-password", revoke_tokens=False, actor=CLI)


def _disable(db: Database, user_id: int) -> None:
    with db.writer() as session, session.begin():
        service.set_disabled(session, service.get_user(session, user_id), True, actor=CLI)


@pytest.mark.parametrize("end", [_reset, _disable], ids=["reset", "disable"])
def test_a_reset_or_disabling_ends_every_session(
    client: TestClient, db: Database, end: Callable[[Database, int], None]
) -> None:
    first = _signed_in(client, db, "ada")
    client.cookies.clear()
    second = _signed_in(client, db, "ada")
    assert _with_cookie(client, first) == 200 and _with_cookie(client, second) == 200
    with db.reader() as session:
        user = service.get_by_name(session, "ada")
        assert user is not None
    end(db, user.id)
    assert _with_cookie(client, first) == 303 and _with_cookie(client, second) == 303


def test_a_password_change_ends_the_other_sessions_only(client: TestClient, db: Database) -> None:
    other = _signed_in(client, db, "ada")
    client.cookies.clear()
    _signed_in(client, db, "ada")
    form = {
        "current_password": "ada-password",
        "new_password": "changed-password",
        "csrf_token": csrf(client, "/account"),
    }
    page = client.post("/account/password", data=form)
    assert page.status_code == 200 and "Password changed" in page.text
    this = client.cookies.get(COOKIE)
    assert this and _with_cookie(client, this) == 200
    assert _with_cookie(client, other) == 303


@pytest.mark.parametrize(
    "column,age",
    [("last_seen_at", timedelta(minutes=721)), ("created_at", timedelta(days=14, seconds=1))],
    ids=["idle", "absolute"],
)
def test_sessions_expire(client: TestClient, db: Database, column: str, age: timedelta) -> None:
    cookie = _signed_in(client, db, "ada")
    assert _with_cookie(client, cookie) == 200
    with db.writer() as session, session.begin():
        session.execute(update(WebSession).values({column: utcnow() - age}))
    assert _with_cookie(client, cookie) == 303


def test_activity_keeps_an_idle_session_alive(client: TestClient, db: Database) -> None:
    cookie = _signed_in(client, db, "ada")
    with db.writer() as session, session.begin():
        session.execute(update(WebSession).values(last_seen_at=utcnow() - timedelta(minutes=719)))
    assert _with_cookie(client, cookie) == 200  # records the visit
    with db.reader() as session:
        last = session.scalar(select(WebSession.last_seen_at))
    assert last is not None and utcnow() - last < timedelta(minutes=1)


def test_an_api_only_account_cannot_sign_in(client: TestClient, db: Database) -> None:
    with db.writer() as session, session.begin():
        service.create_user(session, name="bot", role="admin")
    form = {"username": "bot", "password": _DUMMY_PASSWORD, "csrf_token": csrf(client)}
    page = client.post("/login", data=form, follow_redirects=False)
    assert page.status_code == 401 and "Wrong username or password" in page.text
    assert client.get("/account", follow_redirects=False).status_code == 303


def test_signing_in_starts_a_new_session_not_the_one_offered(
    client: TestClient, db: Database
) -> None:
    client.get("/login")
    offered = client.cookies.get(COOKIE)  # what a fixation attack would plant
    assert offered
    signed_in = _signed_in(client, db, "ada")
    assert signed_in != offered
    assert _with_cookie(client, offered) == 303 and _with_cookie(client, signed_in) == 200
