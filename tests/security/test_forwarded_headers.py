"""X-Forwarded-For is believed only from LABELLOOP_TRUSTED_PROXIES, so it cannot dodge the
sign-in lockout; from a configured proxy it names the client."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.users.service import create_user
from tests.security.conftest import Live

MAX_FAILURES = 3


def _fail(client: httpx.Client | TestClient, username: str, forwarded_for: str) -> int:
    page = client.get("/login").text
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "the sign-in page should carry a CSRF token"
    response = client.post(
        "/login",
        data={"username": username, "password": "wrong", "csrf_token": match.group(1)},
        headers={"X-Forwarded-For": forwarded_for},
    )
    return response.status_code


def test_a_served_app_ignores_forwarded_for_from_its_loopback_peer(live: Live) -> None:
    """uvicorn believes X-Forwarded-For from 127.0.0.1 by default: every guess could claim
    a new address and never be locked out. ``labelloop serve`` turns that off."""
    with live.db.writer() as session, session.begin():
        create_user(session, name="xff-target", role="annotator", password="right-password")
    limit = live.settings.login_max_failures
    with httpx.Client(base_url=live.url, follow_redirects=False) as client:
        codes = [_fail(client, "xff-target", f"198.51.100.{n}") for n in range(limit + 1)]
    assert codes == [401] * limit + [429]


@pytest.fixture
def behind_proxy(settings: Settings, db: Database) -> Iterator[Settings]:
    with db.writer() as session, session.begin():
        create_user(session, name="ada", role="admin", password="ada-password")
    yield settings.model_copy(
        update={"login_max_failures": MAX_FAILURES, "trusted_proxies": ["10.0.0.0/8"]}
    )


def test_a_trusted_proxy_names_the_client(behind_proxy: Settings) -> None:
    app = create_app(behind_proxy, worker=False)
    with TestClient(app, client=("10.1.2.3", 40000), follow_redirects=False) as proxy:
        for _ in range(MAX_FAILURES):
            assert _fail(proxy, "ada", "203.0.113.7") == 401
        assert _fail(proxy, "ada", "203.0.113.7") == 429
        assert _fail(proxy, "ada", "203.0.113.8") == 401  # another client behind the proxy
        assert _fail(proxy, "ada", "203.0.113.8, 10.9.9.9") == 401  # proxies chained: same


def test_an_untrusted_peer_cannot_name_another_client(behind_proxy: Settings) -> None:
    app = create_app(behind_proxy, worker=False)
    with TestClient(app, client=("192.0.2.10", 40000), follow_redirects=False) as direct:
        codes = [_fail(direct, "ada", f"203.0.113.{n}") for n in range(MAX_FAILURES + 1)]
    assert codes == [401] * MAX_FAILURES + [429]


def test_without_trusted_proxies_even_a_loopback_peer_is_not_believed(
    settings: Settings, db: Database
) -> None:
    with db.writer() as session, session.begin():
        create_user(session, name="ada", role="admin", password="ada-password")
    limited = settings.model_copy(update={"login_max_failures": MAX_FAILURES})
    app = create_app(limited, worker=False)
    with TestClient(app, client=("127.0.0.1", 40000), follow_redirects=False) as local:
        codes = [_fail(local, "ada", f"203.0.113.{n}") for n in range(MAX_FAILURES + 1)]
    assert codes == [401] * MAX_FAILURES + [429]


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("", []),
        ("10.0.0.1", ["10.0.0.1"]),
        ("10.0.0.1, 172.16.0.0/12,::1", ["10.0.0.1", "172.16.0.0/12", "::1"]),
        ('["10.0.0.1", "fd00::/8"]', ["10.0.0.1", "fd00::/8"]),
    ],
)
def test_trusted_proxies_read_a_list_or_json(
    value: str, parsed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABELLOOP_TRUSTED_PROXIES", value)
    assert Settings().trusted_proxies == parsed


@pytest.mark.parametrize("value", ["proxy.internal", "*", "10.0.0.1/8", "10.0.0.300"])
def test_trusted_proxies_refuse_what_is_not_an_address(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABELLOOP_TRUSTED_PROXIES", value)
    with pytest.raises(ValidationError, match="not an IP address or network"):
        Settings()
