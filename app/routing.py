"""Every route decides who the caller is before its body is read.

FastAPI reads and parses a request body before it solves a route's dependencies, so a
bearer-token or session check written as a dependency runs only after an anonymous caller's
16 MB JSON was parsed or its 150 MB upload spooled to disk. :class:`GuardedRoute` runs the
*pre-body checks* of a route's dependencies first: a dependency marked with
:func:`pre_body` (the caller's identity, their role, their rate limit) is checked before
the body is touched, and what it finds is kept on ``request.state`` for the dependency
itself to return.

Every router of the app uses this route class (``tests/security/test_pre_body.py`` checks).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from app.jsonbody import StrictJSONRequest

PreBodyCheck = Callable[[Request], Awaitable[None]]
F = TypeVar("F", bound=Callable[..., Any])
_MARK = "__pre_body_check__"


def pre_body(check: PreBodyCheck) -> Callable[[F], F]:
    """Mark a dependency: ``check(request)`` runs before the body of any route using it.

    ``check`` raises to refuse the request (401, 403, 429) and may leave what it resolved on
    ``request.state`` for the dependency to return.
    """

    def mark(dependency: F) -> F:
        setattr(dependency, _MARK, check)
        return dependency

    return mark


def pre_body_checks(dependant: Dependant) -> list[PreBodyCheck]:
    """The marked checks of ``dependant``'s dependency tree, outermost first, each once."""
    found: list[PreBodyCheck] = []

    def walk(node: Dependant) -> None:
        for sub in node.dependencies:
            walk(sub)
        check = getattr(node.call, _MARK, None)
        if check is not None and check not in found:
            found.append(check)

    walk(dependant)
    return found


class GuardedRoute(APIRoute):
    """An API route whose pre-body checks run before FastAPI reads the body."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        checks = pre_body_checks(self.dependant)

        async def guarded(request: Request) -> Response:
            for check in checks:
                await check(request)
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return guarded
