"""Cost bounds: predict reads at most ``predict_max_chars`` characters a request, and every
costly or busy API route has a per-user rate limit, checked before the body is read."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import Database
from app.main import create_app
from tests.factories import auth, create_project, create_user, queue_and_work
from tests.security.conftest import snapshot


@contextmanager
def _client(settings: Settings, **overrides: Any) -> Iterator[TestClient]:  # noqa: ANN401
    with TestClient(create_app(settings.model_copy(update=overrides), worker=False)) as client:
        yield client


def test_predict_over_the_character_limit_is_refused_and_at_it_answered(
    settings: Settings, db: Database
) -> None:
    project = create_project(db, n_items=30, n_labeled=12)
    queue_and_work(db, settings, project)
    _, token = create_user(db, name="ann", role="annotator")
    url = f"/api/v1/projects/{project.id}/predict"
    with _client(settings, predict_max_chars=1_000) as client:
        before = snapshot(db)
        over = client.post(url, json={"texts": ["a" * 600, "b" * 401]}, headers=auth(token))
        assert over.status_code == 413, over.text
        detail = over.json()["detail"]
        assert "1,001 characters" in detail and "limit of 1,000" in detail
        assert "LABELLOOP_PREDICT_MAX_CHARS" in detail
        assert snapshot(db) == before
        at_limit = client.post(url, json={"texts": ["a" * 600, "b" * 400]}, headers=auth(token))
        assert at_limit.status_code == 200, at_limit.text
        assert len(at_limit.json()["predictions"]) == 2


def test_predict_over_the_character_limit_is_refused_before_the_model_is_looked_up(
    settings: Settings, db: Database
) -> None:
    project = create_project(db, n_items=5)  # no model: within the limit this is a 409
    _, token = create_user(db)
    url = f"/api/v1/projects/{project.id}/predict"
    with _client(settings) as client:
        texts = ["x" * 100_000, "y" * 100_000, "z"]  # each text is allowed, together not
        assert client.post(url, json={"texts": texts}, headers=auth(token)).status_code == 413
        assert client.post(url, json={"texts": ["z"]}, headers=auth(token)).status_code == 409


def test_over_the_rate_limit_is_refused_with_retry_after(settings: Settings, db: Database) -> None:
    project = create_project(db, n_items=5)
    _, token = create_user(db, name="ann", role="annotator")
    url = f"/api/v1/projects/{project.id}/predict"
    with _client(settings, rate_limit_predict="2/minute") as client:
        for _ in range(2):  # counted whatever the answer (409: no model yet)
            assert client.post(url, json={"texts": ["a"]}, headers=auth(token)).status_code == 409
        refused = client.post(url, json={"texts": ["a"]}, headers=auth(token))
        assert refused.status_code == 429, refused.text
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        detail = refused.json()["detail"]
        assert "2 per 1 minute" in detail and "LABELLOOP_RATE_LIMIT_PREDICT" in detail


def test_rate_limits_count_per_user_and_per_kind_of_request(
    settings: Settings, db: Database
) -> None:
    project = create_project(db, n_items=5)
    _, ann = create_user(db, name="ann", role="annotator")
    _, bob = create_user(db, name="bob", role="annotator")
    base = f"/api/v1/projects/{project.id}"
    with _client(settings, rate_limit_predict="1/minute") as client:

        def predict(token: str) -> httpx.Response:
            return client.post(f"{base}/predict", json={"texts": ["a"]}, headers=auth(token))

        assert [predict(ann).status_code for _ in range(2)] == [409, 429]
        assert [predict(bob).status_code for _ in range(2)] == [409, 429]  # a count of his own
        assert client.get(f"{base}/queue", headers=auth(ann)).status_code == 200  # another kind


ROUTES = [
    ("queue", "GET", "/queue", {}),
    ("label", "POST", "/annotations", {"json": {"item_id": 1, "label": "sports"}}),
    ("label", "POST", "/annotations/bulk", {"json": {"annotations": []}}),
    ("import", "POST", "/imports", {"files": {"file": ("a.csv", b"text\nhello\n")}}),
    ("export", "GET", "/export", {}),
    ("predict", "POST", "/predict", {"json": {"texts": ["a"]}}),
    ("train", "POST", "/train", {}),
]


@pytest.mark.parametrize(("category", "method", "path", "body"), ROUTES)
def test_every_limited_route_answers_429_over_its_limit(
    settings: Settings,
    db: Database,
    category: str,
    method: str,
    path: str,
    body: dict[str, Any],
) -> None:
    project = create_project(db, n_items=5)
    _, token = create_user(db)
    url = f"/api/v1/projects/{project.id}{path}"
    with _client(settings, **{f"rate_limit_{category}": "1/minute"}) as client:
        first = client.request(method, url, headers=auth(token), **body)
        assert first.status_code != 429, first.text
        second = client.request(method, url, headers=auth(token), **body)
        assert second.status_code == 429, second.text
        assert f"LABELLOOP_RATE_LIMIT_{category.upper()}" in second.json()["detail"]


@pytest.mark.anyio
async def test_an_upload_over_the_rate_limit_is_refused_before_its_body_is_read(
    settings: Settings, db: Database
) -> None:
    project = create_project(db, n_items=5)
    _, token = create_user(db)
    app = create_app(settings.model_copy(update={"rate_limit_import": "1/minute"}), worker=False)
    pulled = [0]
    boundary = "cost-bounds"

    async def upload() -> AsyncIterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n'
            "Content-Type: text/csv\r\n\r\ntext\r\n"
        ).encode()
        for i in range(64):  # 4 MB of rows
            pulled[0] += 1
            yield b"".join(b"row %d of chunk %d\r\n" % (j, i) for j in range(4096))[: 64 * 1024]
        yield f"\r\n--{boundary}--\r\n".encode()

    headers = {**auth(token), "Content-Type": f"multipart/form-data; boundary={boundary}"}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as client,
    ):
        url = f"/api/v1/projects/{project.id}/imports"
        first = await client.post(
            url, files={"file": ("a.csv", b"text\nhello\n")}, headers=auth(token)
        )
        assert first.status_code == 201, first.text
        refused = await client.post(url, content=upload(), headers=headers)
    assert refused.status_code == 429, refused.text
    assert pulled[0] == 0
