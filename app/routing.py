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

import inspect
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, TypeVar

import anyio
from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel

from app.jsonbody import StrictJSONRequest

# A check is a coroutine function, or a plain function that may block (a database look-up)
PreBodyCheck = Callable[[Request], Awaitable[None] | None]
AsyncCheck = Callable[[Request], Awaitable[None]]
F = TypeVar("F", bound=Callable[..., Any])
_MARK = "__pre_body_check__"


def pre_body(check: PreBodyCheck) -> Callable[[F], F]:
    """Mark a dependency: ``check(request)`` runs before the body of any route using it.

    ``check`` raises to refuse the request (401, 403, 429) and may leave what it resolved on
    ``request.state`` for the dependency to return. A plain (not async) ``check`` may block
    on a database look-up: it runs on a worker thread, on the same one as the plain checks
    next to it (see :func:`on_threads`), or on SQLite on the event loop (:class:`GuardedRoute`).
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


def on_threads(checks: Sequence[PreBodyCheck]) -> list[AsyncCheck]:
    """``checks`` to await in order, each run of consecutive plain checks joined into one
    that runs them on one worker thread: the caller's token and their project role are then
    looked up in one thread hop, not two (each hop costs the event loop a wake-up, and the
    request a wait for the thread and the GIL; bench/README.md, `load.py`)."""
    joined: list[AsyncCheck] = []
    run: list[PreBodyCheck] = []
    for check in [*checks, None]:
        if check is not None and not inspect.iscoroutinefunction(check):
            run.append(check)
            continue
        if run:
            joined.append(_one_thread(tuple(run)))
            run = []
        if check is not None:
            joined.append(check)
    return joined


def _one_thread(checks: tuple[PreBodyCheck, ...]) -> AsyncCheck:
    def run_all(request: Request) -> None:
        for check in checks:
            check(request)

    async def joined(request: Request) -> None:
        await anyio.to_thread.run_sync(run_all, request)

    return joined


def json_response(model: BaseModel, status_code: int = 200) -> Response:
    """``model`` as the JSON response, serialised on the calling thread.

    FastAPI validates what a plain (not async) route returns on a worker thread of its own:
    one more thread hop per request. The busiest routes (queue, labels) return this
    instead; their ``response_model`` still documents the body.
    """
    body = model.model_dump_json()
    return Response(body, status_code=status_code, media_type="application/json")


class GuardedRoute(APIRoute):
    """An API route whose pre-body checks run before FastAPI reads the body.

    Where ``app.state.inline_checks`` is set (SQLite: see ``app.main``), the plain checks run
    on the event loop itself. Their look-ups are reads of a local file, which in WAL mode
    never wait for a writer and take tens of microseconds, while a hop to a worker thread
    and back costs the loop 0.2 ms and more on a virtual machine (bench/README.md,
    `load.py`). Elsewhere (PostgreSQL: a network round trip) they run on a worker thread.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        found = pre_body_checks(self.dependant)
        threaded = on_threads(found)
        inline = [(check, inspect.iscoroutinefunction(check)) for check in found]

        async def guarded(request: Request) -> Response:
            if getattr(request.app.state, "inline_checks", False):
                for check, is_async in inline:
                    if is_async:
                        await check(request)  # type: ignore[misc]
                    else:
                        check(request)
            else:
                for joined in threaded:
                    await joined(request)
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return guarded
