"""The API docs pages over HTTP: vendored files only, and the CSP stays strict."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.web.security import CSP


@pytest.fixture
def web(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, worker=False)) as client:
        yield client


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_load_only_local_scripts_and_no_inline_one(web: TestClient, path: str) -> None:
    response = web.get(path)
    assert response.status_code == 200
    assert "http" not in response.text.replace("http-equiv", "")  # no CDN, no other host
    assert "<script>" not in response.text and "onload" not in response.text
    for src in ("/static/docs.js", *_script_sources(response.text)):
        assert web.get(src).status_code == 200, src
    assert "set-cookie" not in response.headers  # public and stateless


def test_swagger_ui_keeps_the_site_csp(web: TestClient) -> None:
    assert web.get("/docs").headers.get_list("content-security-policy") == [CSP]


def test_redoc_admits_only_its_own_styles_and_never_inline_scripts(web: TestClient) -> None:
    first, second = web.get("/redoc"), web.get("/redoc")
    (policy,) = first.headers.get_list("content-security-policy")
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "script-src 'self';" in policy
    nonce = policy.split("'nonce-")[1].split("'")[0]
    assert f'data-nonce="{nonce}"' in first.text
    assert nonce not in second.headers["content-security-policy"]  # fresh every time


def _script_sources(html: str) -> list[str]:
    return [part.split('"')[0] for part in html.split('<script src="')[1:]]
