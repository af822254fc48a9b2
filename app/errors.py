"""Application errors carry their HTTP status; each surface renders them its own way."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import chain
from typing import Any

from pydantic import BaseModel

# The longest ``input`` a 422 echoes back, in characters (roughly, as JSON): a request over a
# length limit (1,001 texts of 2 KB) would otherwise get its whole body back in the answer.
MAX_ECHO_CHARS = 1_000


class AppError(Exception):
    """Base error: a user-facing ``message`` and the HTTP ``status_code`` it maps to."""

    status_code = 400
    headers: dict[str, str] | None = None  # extra response headers
    # The request's writes are committed all the same (``app.deps``): only for an error raised
    # after writing nothing but the audit event of the refusal (a wrong password).
    keeps_writes = False

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code


class BadRequest(AppError):
    status_code = 400


class Unauthorized(AppError):
    status_code = 401
    headers = {"WWW-Authenticate": "Bearer"}  # RFC 6750: the scheme the API expects


class Forbidden(AppError):
    status_code = 403


class NotFound(AppError):
    status_code = 404


class Conflict(AppError):
    status_code = 409


class PayloadTooLarge(AppError):
    status_code = 413


class UnsupportedMediaType(AppError):
    status_code = 415


class Invalid(AppError):
    """The request is well-formed but breaks a rule (unknown label, bad field)."""

    status_code = 422


class WrongPassword(Invalid):
    """A password given again (to change it, to mint a token) is wrong: 422, and the audit
    event of the failed check stays."""

    keeps_writes = True


class TooManyRequests(AppError):
    """The caller is over a rate limit (``app.ratelimits``): retry after ``retry_after`` s."""

    status_code = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.headers = {"Retry-After": str(retry_after)}


class Unavailable(AppError):
    """The database refused or dropped the connection, or stayed locked: worth a retry."""

    status_code = 503
    headers = {"Retry-After": "1"}


class ErrorOut(BaseModel):
    """The body of every API error."""

    detail: str


class FieldProblem(BaseModel):
    """One problem found by request validation (FastAPI's format)."""

    loc: list[str | int]
    msg: str
    type: str


def short_inputs(problems: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Request validation ``problems`` with each ``input`` longer than ``MAX_ECHO_CHARS`` left
    out (the documented format is ``loc``, ``msg`` and ``type``; ``input`` is an echo)."""
    return [
        {key: value for key, value in problem.items() if key != "input"}
        if _size(problem.get("input"), MAX_ECHO_CHARS) > MAX_ECHO_CHARS
        else dict(problem)
        for problem in problems
    ]


def _size(value: Any, limit: int) -> int:
    """About how many characters ``value`` takes as JSON, counted no further than past
    ``limit`` (a list of 10,000 texts stops after the first few)."""
    if isinstance(value, str | bytes):
        return len(value) + 2
    parts: Iterable[Any]
    if isinstance(value, Mapping):
        parts = chain.from_iterable(value.items())
    elif isinstance(value, list | tuple | set | frozenset):
        parts = value
    else:
        return len(str(value))
    total = 2
    for part in parts:
        total += _size(part, limit - total) + 1
        if total > limit:
            break
    return total


class InvalidOut(BaseModel):
    """422: a broken rule (a message) or a request that fails validation (a list of problems)."""

    detail: str | list[FieldProblem]


_DESCRIPTIONS = {
    400: "The body could not be parsed",
    401: "Missing or invalid bearer token",
    403: "The action needs the admin role",
    404: "No such project or item",
    409: "Conflicts with the current state",
    413: "The body is over the size limit",
    415: "Unsupported file format",
    422: "Invalid request",
    429: "Over the caller's rate limit for this kind of request: retry after the Retry-After "
    "seconds",
    503: "The database is unavailable or busy: retry after the Retry-After seconds",
}


_HEADERS = {
    429: {
        "Retry-After": {
            "description": "Seconds until the request would be within the limit",
            "schema": {"type": "integer"},
        }
    }
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI documentation of the error responses ``codes`` (for ``responses=``)."""
    return {
        code: {
            "model": InvalidOut if code == 422 else ErrorOut,
            "description": _DESCRIPTIONS[code],
            **({"headers": _HEADERS[code]} if code in _HEADERS else {}),
        }
        for code in codes
    }
