"""Per-user request rates, one moving-window limit per category of route: the JSON API's
routes and the screens that do the same (``web_rate_limited``) count in the same windows.

A category (``queue``, ``predict``, ...) is limited by its ``rate_limit_<category>`` setting,
counted per user, so a burst of predictions spends neither the caller's labelling budget nor
anyone else's. The check runs before the body is read (``app.routing.pre_body``), after the
caller's identity check: an over-limit upload is refused without spooling a byte of it.

Counts live in this process's memory, made per app in ``create_app``. With several web
processes (``labelloop serve --workers N``) each one counts on its own, so a user gets up to
N times a limit; a deployment that needs one count limits at its proxy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, get_args

from fastapi import Depends, Request
from limits import RateLimitItem, parse

from app.config import Settings
from app.deps import current_user
from app.errors import TooManyRequests
from app.models import User
from app.routing import pre_body
from app.web.ratelimit import FailureLimiter
from app.web.security import web_user

Category = Literal["queue", "label", "predict", "import", "export", "train"]
CATEGORIES: tuple[Category, ...] = get_args(Category)
_COUNTED = "rate_limits_counted"  # request.state: the categories this request was counted in


class ApiLimiter:
    """The rate limits of one app, by category, with their per-user counts.

    A moving window per category keeps the time of each counted request: ``Retry-After`` is
    then exact (when the oldest request in the window leaves it), and refused requests are
    not counted, so a client that keeps knocking is let in as soon as its window allows.
    The windows are plain deques: ``limits``' memory storage started a timer thread to
    expire its entries on many a request, and every request of the event loop then waited
    for that thread to start (bench/README.md, `load.py`).
    """

    def __init__(self, settings: Settings) -> None:
        self.limits: dict[Category, RateLimitItem] = {
            category: parse(getattr(settings, f"rate_limit_{category}")) for category in CATEGORIES
        }
        self._windows = {
            category: FailureLimiter(limit.amount, limit.get_expiry())
            for category, limit in self.limits.items()
        }

    def hit(self, category: Category, user_id: int) -> int:
        """Count one request of ``user_id``; 0 if within the limit, else seconds to wait."""
        return self._windows[category].hit(user_id)


def _enforce(request: Request, category: Category, user: User) -> None:
    """Count the request once; 429 with ``Retry-After`` when the user is over the limit."""
    counted: set[str] = getattr(request.state, _COUNTED, set())
    if category in counted:
        return
    counted.add(category)
    setattr(request.state, _COUNTED, counted)
    limiter: ApiLimiter = request.app.state.rate_limiter
    wait = limiter.hit(category, user.id)
    if wait:
        limit = limiter.limits[category]
        raise TooManyRequests(
            f"over the rate limit of {limit} for {category} requests per user "
            f"(LABELLOOP_RATE_LIMIT_{category.upper()}): retry in {wait} s",
            retry_after=wait,
        )


def rate_check(category: Category) -> Callable[[Request], None]:
    """The pre-body check of ``category``: count the caller found by the identity check
    before it (nothing if it found none: it refused the request, or it runs later)."""

    def check(request: Request) -> None:
        user = getattr(request.state, "user", None)
        if user is not None:  # else the identity check refused, or runs as a dependency
            _enforce(request, category, user)

    return check


def rate_limited(  # noqa: ANN401 - returns a FastAPI Depends marker
    category: Category, *, caller: Callable[..., Any] = current_user
) -> Any:
    """A route dependency (``dependencies=[rate_limited("predict")]``) counting the caller's
    requests of ``category``.

    It depends on ``caller`` (the API's ``current_user``, or the screens' ``web_user``:
    :func:`web_rate_limited`), so the identity check runs first and this one finds the
    caller on ``request.state.user``; both run before the body is read, together with the
    project role's look-up (plain checks: on one worker thread, or on SQLite on the event
    loop; ``app.routing``), since in a route's checks this one comes between the other two.
    """

    @pre_body(rate_check(category))
    async def limited(request: Request, user: User) -> None:
        _enforce(request, category, user)  # outside a GuardedRoute; else already counted

    # Set here: a string annotation naming ``caller`` could not be resolved by FastAPI.
    limited.__annotations__["user"] = Annotated[User, Depends(caller)]
    limited.__name__ = f"rate_limited_{category}"
    return Depends(limited)


def web_rate_limited(*categories: Category) -> list[Any]:
    """The dependencies of a screen's route that does what API routes limited in
    ``categories`` do: counted in the same per-user windows, so a user's API and web
    requests share one limit. Over it the screen shows the 429 as a page or an HTMX toast,
    with ``Retry-After`` (``app.main``)."""
    return [rate_limited(category, caller=web_user) for category in categories]
