"""The screens that do what a rate-limited API route does count in the same per-user windows:
API and web requests share one limit, and over it a screen answers a readable 429 (a page, or
an HTMX toast) with ``Retry-After``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.models import Project
from tests.factories import auth, create_project, create_user
from tests.security.conftest import csrf

PASSWORD = "mia-password"
HTMX = {"HX-Request": "true"}
# Every screen route limited like its API twin: (method, path, the category it counts in).
LIMITED = [
    ("get", "/projects/{p}/annotate", "queue"),
    ("post", "/projects/{p}/annotate/submit", "label"),
    ("post", "/projects/{p}/annotate/submit", "queue"),  # it hands back the next items too
    ("post", "/projects/{p}/annotate/skip", "queue"),
    ("post", "/projects/{p}/annotate/history/1", "label"),
    ("post", "/projects/{p}/import/preview", "import"),
    ("post", "/projects/{p}/import", "import"),
    ("get", "/projects/{p}/export.csv", "export"),
    ("post", "/projects/{p}/train", "train"),
]


@pytest.fixture
def project(db: Database) -> Project:
    return create_project(db, n_items=5, n_labeled=2)


@pytest.fixture
def token(db: Database) -> str:
    """An instance admin's token; the admin signs in on the web too."""
    return create_user(db, name="mia", role="admin", password=PASSWORD)[1]


@contextmanager
def _signed_in(settings: Settings, **limits: str) -> Iterator[tuple[TestClient, str]]:
    """A client signed in as mia, with ``limits`` (``export="2/minute"``), and its CSRF token."""
    limited = settings.model_copy(update={f"rate_limit_{k}": v for k, v in limits.items()})
    with TestClient(create_app(limited, worker=False), follow_redirects=False) as client:
        form = {"username": "mia", "password": PASSWORD, "csrf_token": csrf(client)}
        assert client.post("/login", data=form).status_code == 303
        yield client, csrf(client, "/")


@pytest.mark.parametrize(("method", "path", "category"), LIMITED)
def test_each_screen_twin_of_a_limited_api_route_is_limited(
    settings: Settings, project: Project, token: str, method: str, path: str, category: str
) -> None:
    url = path.format(p=project.id)
    limits = {"queue": "1000/minute", "label": "1000/minute", category: "1/minute"}
    with _signed_in(settings, **limits) as (client, page_csrf):
        data = {"csrf_token": page_csrf} if method == "post" else None
        first = client.request(method, url, data=data)
        assert first.status_code != 429, first.text
        refused = client.request(method, url, data=data)
        assert refused.status_code == 429, refused.text
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert refused.headers["content-type"].startswith("text/html")
        assert f"LABELLOOP_RATE_LIMIT_{category.upper()}" in refused.text


def test_api_and_web_exports_count_together_and_the_page_says_when(
    settings: Settings, project: Project, token: str
) -> None:
    with _signed_in(settings, export="3/minute") as (client, _):
        api = f"/api/v1/projects/{project.id}/export"
        assert client.get(api, headers=auth(token)).status_code == 200
        assert client.get(f"/projects/{project.id}/export.csv").status_code == 200
        assert client.get(api, headers=auth(token)).status_code == 200
        refused = client.get(f"/projects/{project.id}/export.csv")
        assert refused.status_code == 429 and "<html" in refused.text
        assert "retry in" in refused.text and "Retry-After" in refused.headers
        assert client.get(api, headers=auth(token)).status_code == 429


def test_training_from_the_dashboard_counts_with_the_api_and_answers_a_toast(
    settings: Settings, project: Project, token: str
) -> None:
    with _signed_in(settings, train="2/minute") as (client, page_csrf):
        web = f"/projects/{project.id}/train"
        assert client.post(web, data={"csrf_token": page_csrf}, headers=HTMX).status_code == 200
        api = client.post(f"/api/v1/projects/{project.id}/train", headers=auth(token))
        assert api.status_code == 202
        toast = client.post(web, data={"csrf_token": page_csrf}, headers=HTMX)
        assert toast.status_code == 429 and "<html" not in toast.text
        assert toast.headers["HX-Retarget"] == "#toasts"
        assert 1 <= int(toast.headers["Retry-After"]) <= 60
        assert "LABELLOOP_RATE_LIMIT_TRAIN" in toast.text
