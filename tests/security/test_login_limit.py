"""Sign-in is rate-limited: repeated failures for one username and address get a 429."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.users.service import create_user
from app.web.ratelimit import FailureLimiter, LoginLimiter
from tests.security.conftest import csrf

MAX_FAILURES = 3


@pytest.fixture
def web(settings: Settings, db: Database) -> Iterator[TestClient]:
    limited = settings.model_copy(update={"login_max_failures": MAX_FAILURES})
    with db.writer() as session, session.begin():
        create_user(session, name="ada", role="admin", password="ada-password")
    with TestClient(create_app(limited, worker=False), follow_redirects=False) as client:
        yield client


def _login(client: TestClient, username: str, password: str):
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": csrf(client)}
    )


def test_repeated_failures_are_refused_with_429(web: TestClient) -> None:
    for _ in range(MAX_FAILURES):
        assert _login(web, "ada", "wrong").status_code == 401
    refused = _login(web, "ada", "ada-password")  # even the right password, for now
    assert refused.status_code == 429
    assert "Too many failed sign-ins. Try again in 5 minutes." in refused.text
    assert 0 < int(refused.headers["Retry-After"]) <= 300
    assert _login(web, "ADA ", "wrong").status_code == 429  # the same account, spelt otherwise


def test_other_accounts_are_not_locked_out(web: TestClient, db: Database) -> None:
    with db.writer() as session, session.begin():
        create_user(session, name="bo", role="annotator", password="bo-password")
    for _ in range(MAX_FAILURES):
        _login(web, "ada", "wrong")
    assert _login(web, "bo", "bo-password").status_code == 303


def test_a_success_clears_the_failures(web: TestClient) -> None:
    for _ in range(MAX_FAILURES - 1):
        _login(web, "ada", "wrong")
    assert _login(web, "ada", "ada-password").status_code == 303
    for _ in range(MAX_FAILURES - 1):
        assert _login(web, "ada", "wrong").status_code == 401


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failures_leave_the_window() -> None:
    clock = Clock()
    limiter = FailureLimiter(2, 60, clock=clock)
    limiter.failed("k")
    clock.now += 30
    limiter.failed("k")
    assert limiter.retry_after("k") == 30
    clock.now += 30  # the first failure is now a full window old
    assert limiter.retry_after("k") == 0
    limiter.failed("k")
    assert limiter.retry_after("k") == 30


def test_one_address_trying_many_usernames_is_limited_too() -> None:
    limiter = LoginLimiter(2, 60, clock=Clock())
    for i in range(2 * LoginLimiter.ADDRESS_FACTOR):
        assert limiter.retry_after(f"user{i}", "10.0.0.1") == 0
        limiter.failed(f"user{i}", "10.0.0.1")
    assert limiter.retry_after("someone-new", "10.0.0.1") > 0
    assert limiter.retry_after("someone-new", "10.0.0.2") == 0


def test_memory_is_bounded() -> None:
    limiter = FailureLimiter(1, 60, clock=Clock(), max_keys=100)
    for i in range(1000):
        limiter.failed(i)
    assert limiter.retry_after(999) > 0 and limiter.retry_after(0) == 0
    assert len(limiter._failures) == 100


def test_hit_does_not_count_refused_events_and_says_when_to_retry() -> None:
    clock = Clock()
    window = FailureLimiter(2, 60, clock=clock)
    assert window.hit("u") == 0
    clock.now += 20
    assert window.hit("u") == 0
    clock.now += 10
    assert window.hit("u") == 30  # the oldest event leaves the window in 30 s
    clock.now += 30
    assert window.hit("u") == 0  # the refused one was not counted: one slot was free
    assert window.hit("u") == 20  # now the second event is the oldest
