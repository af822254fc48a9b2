"""Failed sign-in counting: too many failures in a window and sign-in is refused for a while.

The counts live in this process's memory. That is enough for the embedded default (one web
process). With several web processes each one counts on its own, so a guesser gets up to
``max_failures`` tries per window *per process*; such deployments should keep the counts in
a store the processes share (a database table, Redis) or limit ``POST /login`` at the
reverse proxy. Behind a proxy, list it in ``LABELLOOP_TRUSTED_PROXIES``, or every client
shares the proxy's address; ``X-Forwarded-For`` from any other peer is ignored, so a guesser
cannot claim a fresh address for every try.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable

MAX_KEYS = 10_000  # oldest keys are forgotten beyond this, so memory stays bounded


class FailureLimiter:
    """At most ``max_failures`` failures per key in any ``window`` seconds (a sliding window).

    Also counts the API's requests per user (``app.ratelimits``, with :meth:`hit`).
    """

    def __init__(
        self,
        max_failures: int,
        window: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self._clock = clock
        self._max_keys = max_keys
        self._failures: OrderedDict[Hashable, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, key: Hashable) -> int:
        """Seconds until ``key`` may try again; 0 when it may try now."""
        with self._lock:
            return self._wait(key)

    def failed(self, key: Hashable) -> None:
        with self._lock:
            self._record(key)

    def hit(self, key: Hashable) -> int:
        """Count one event of ``key`` unless it is at its limit, in one step: 0 when it was
        counted, else the seconds until it may try again (a refused event is not counted)."""
        with self._lock:
            wait = self._wait(key)
            if not wait:
                self._record(key)
            return wait

    def _wait(self, key: Hashable) -> int:
        times = self._recent(key)
        if len(times) < self.max_failures:
            return 0
        return max(1, math.ceil(times[0] + self.window - self._clock()))

    def _record(self, key: Hashable) -> None:
        times = self._recent(key)
        times.append(self._clock())
        self._failures[key] = times
        self._failures.move_to_end(key)
        while len(self._failures) > self._max_keys:
            self._failures.popitem(last=False)

    def reset(self, key: Hashable) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def _recent(self, key: Hashable) -> deque[float]:
        """The key's failure times inside the window (older ones dropped)."""
        times = self._failures.get(key, deque())
        cutoff = self._clock() - self.window
        while times and times[0] <= cutoff:
            times.popleft()
        return times


class LoginLimiter:
    """Limits failed sign-ins per username and client address, and per address overall.

    The per-address limit (``ADDRESS_FACTOR`` times looser) stops one client from trying one
    password against many usernames; a success clears only its own username's count.
    """

    ADDRESS_FACTOR = 10

    def __init__(self, max_failures: int, window: float, **kwargs: object) -> None:
        self.account = FailureLimiter(max_failures, window, **kwargs)  # type: ignore[arg-type]
        self.address = FailureLimiter(
            max_failures * self.ADDRESS_FACTOR,
            window,
            **kwargs,  # type: ignore[arg-type]
        )

    def retry_after(self, username: str, address: str) -> int:
        """Seconds until this username may be tried again from ``address``; 0 if now."""
        return max(
            self.account.retry_after(_account(username, address)),
            self.address.retry_after(address),
        )

    def failed(self, username: str, address: str) -> None:
        self.account.failed(_account(username, address))
        self.address.failed(address)

    def succeeded(self, username: str, address: str) -> None:
        self.account.reset(_account(username, address))


def _account(username: str, address: str) -> tuple[str, str]:
    return (username.strip().lower(), address)
