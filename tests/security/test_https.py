"""An https LABELLOOP_PUBLIC_URL makes the session cookie Secure and sends HSTS everywhere."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app

HSTS = "max-age=31536000; includeSubDomains"
PATHS = ["/login", "/health", "/api/v1/projects", "/static/app.css", "/no-such-page"]


def _client(settings: Settings, public_url: str | None) -> TestClient:
    configured = Settings(
        **settings.model_dump(exclude={"secure_cookies"}) | {"public_url": public_url}
    )
    return TestClient(create_app(configured, worker=False), follow_redirects=False)


def test_an_https_public_url_implies_secure_cookies(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path, public_url="https://labels.example.org").secure_cookies
    assert not Settings(data_dir=tmp_path, public_url="http://labels.internal").secure_cookies
    assert not Settings(data_dir=tmp_path).secure_cookies
    assert Settings(data_dir=tmp_path, secure_cookies=True).secure_cookies  # still on its own


def test_behind_https_the_session_cookie_is_secure_and_hsts_is_sent(settings: Settings) -> None:
    with _client(settings, "https://labels.example.org") as client:
        for path in PATHS:
            assert client.get(path).headers.get("strict-transport-security") == HSTS, path
        cookie = client.get("/login").headers["set-cookie"]
    assert cookie.startswith("labelloop_session=")
    assert "secure" in [part.strip().lower() for part in cookie.split(";")]


@pytest.mark.parametrize("public_url", [None, "http://labels.internal:8000"])
def test_over_plain_http_neither(settings: Settings, public_url: str | None) -> None:
    with _client(settings, public_url) as client:
        response = client.get("/login")
    assert "strict-transport-security" not in response.headers
    assert "secure" not in response.headers["set-cookie"].lower()
