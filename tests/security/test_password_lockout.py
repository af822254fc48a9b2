"""Every password check shares the sign-in lockout: wrong passwords given with only a token (or
a cookie) to mint a token or change the password count with failed sign-ins, are audited as
such, and get the same 429."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.models import AuditEvent
from tests.factories import auth, create_user
from tests.security.conftest import csrf

MAX_FAILURES = 3
PASSWORD = "ada-password"


@pytest.fixture
def web(settings: Settings) -> Iterator[TestClient]:
    limited = settings.model_copy(update={"login_max_failures": MAX_FAILURES})
    with TestClient(create_app(limited, worker=False), follow_redirects=False) as client:
        yield client


@pytest.fixture
def token(db: Database) -> str:
    return create_user(db, name="ada", role="annotator", password=PASSWORD)[1]


def _mint(client: TestClient, token: str, password: str):
    body = {"name": "more", "password": password}
    return client.post("/api/v1/me/tokens", json=body, headers=auth(token))


def _change(client: TestClient, token: str, current: str):
    body = {"current_password": current, "new_password": "a-new-password"}
    return client.post("/api/v1/me/password", json=body, headers=auth(token))


def _login(client: TestClient, password: str):
    form = {"username": "ada", "password": password, "csrf_token": csrf(client)}
    return client.post("/login", data=form)


def _failures(db: Database) -> list[tuple[str | None, str | None, object]]:
    with db.reader() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "signin.failed").order_by(AuditEvent.id)
        )
        return [(event.actor_name, event.target, event.detail) for event in events]


def test_wrong_passwords_with_a_token_lock_out_like_sign_in(
    web: TestClient, db: Database, token: str
) -> None:
    assert _mint(web, token, "wrong").status_code == 422
    assert _change(web, token, "wrong").status_code == 422
    assert _mint(web, token, "wrong").status_code == 422
    for refused in (_mint(web, token, PASSWORD), _change(web, token, PASSWORD)):
        assert refused.status_code == 429, refused.text  # even the right password, for now
        assert 0 < int(refused.headers["Retry-After"]) <= 300
        assert "Too many failed sign-ins" in refused.json()["detail"]
    assert _login(web, PASSWORD).status_code == 429  # one count for the account
    assert _failures(db) == [
        ("ada", "ada", {"via": "token.create"}),
        ("ada", "ada", {"via": "password.change"}),
        ("ada", "ada", {"via": "token.create"}),
    ]


def test_failed_sign_ins_lock_the_token_routes_and_a_success_clears_them(
    web: TestClient, db: Database, token: str
) -> None:
    for _ in range(MAX_FAILURES - 1):
        assert _login(web, "wrong").status_code == 401
    assert _mint(web, token, PASSWORD).status_code == 201  # clears the count
    for _ in range(MAX_FAILURES - 1):
        assert _change(web, token, "wrong").status_code == 422
    assert _login(web, "wrong").status_code == 401
    assert _mint(web, token, PASSWORD).status_code == 429
    assert len(_failures(db)) == 2 * (MAX_FAILURES - 1) + 1


def test_the_account_page_shares_the_lockout(web: TestClient, db: Database, token: str) -> None:
    assert _login(web, PASSWORD).status_code == 303
    page_csrf = csrf(web, "/account")
    for _ in range(MAX_FAILURES):
        form = {"name": "more", "password": "wrong", "csrf_token": page_csrf}
        assert web.post("/account/tokens", data=form).status_code == 422
    form = {"current_password": PASSWORD, "new_password": "a-new-password"}
    refused = web.post("/account/password", data={**form, "csrf_token": page_csrf})
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert "Too many failed sign-ins" in refused.text
    assert [via for *_, via in _failures(db)] == [{"via": "token.create"}] * MAX_FAILURES
