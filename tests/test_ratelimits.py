"""The API's per-user request counts: a moving window per category, kept without threads."""

from __future__ import annotations

import threading
from pathlib import Path

from app.config import Settings
from app.ratelimits import ApiLimiter


def _settings(tmp_path: Path, **limits: str) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}", data_dir=tmp_path, **limits)


def test_counting_requests_starts_no_thread(tmp_path: Path) -> None:
    # Every request of the event loop counts here: a thread started on the way (a timer
    # to expire old entries, say) makes each such request wait for it to start.
    before = set(threading.enumerate())
    limiter = ApiLimiter(_settings(tmp_path))
    for user_id in range(50):
        assert limiter.hit("queue", user_id) == 0
        assert limiter.hit("label", user_id) == 0
    assert set(threading.enumerate()) <= before


def test_counts_per_user_and_category_up_to_the_limit(tmp_path: Path) -> None:
    limiter = ApiLimiter(_settings(tmp_path, rate_limit_predict="2/minute"))
    assert [limiter.hit("predict", 1) for _ in range(2)] == [0, 0]
    assert 1 <= limiter.hit("predict", 1) <= 60
    assert limiter.hit("predict", 2) == 0
    assert limiter.hit("label", 1) == 0
