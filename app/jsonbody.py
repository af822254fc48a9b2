"""Request bodies parsed as strict JSON: no NaN or Infinity, no number that overflows to
infinity, no lone surrogate.

Python's json module accepts all three, and each became a 500 further on: a float column or
a JSON response cannot hold NaN, and neither a database nor a UTF-8 response can hold half a
surrogate pair. Refused here, they are a 422 that names the field, like validation errors.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from fastapi import HTTPException, Request

# Only a text with a \uD800-\uDFFF escape (either case), or a surrogate already in it, can
# hold a lone surrogate, so only such a text is walked string by string. (Two searches: one
# regex with both alternatives is some 40 times slower on a large body.)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")

Path = tuple[str | int, ...]


class BadJSONValue(ValueError):
    """A value strict JSON refuses; ``path`` names where it is (keys and list indexes)."""

    def __init__(self, path: Path, problem: str, kind: str) -> None:
        super().__init__(problem)
        self.path = path
        self.problem = problem  # what is wrong, e.g. "NaN is not a JSON number"
        self.kind = kind  # a pydantic error type: finite_number or string_unicode

    @property
    def message(self) -> str:
        """The problem worded like pydantic's message for the same error type."""
        should = "a finite number" if self.kind == "finite_number" else "valid Unicode"
        return f"Input should be {should}: {self.problem}"


class _NotFinite:
    """Stands in, during the parse, for a NaN, an infinity or a number too large for a float."""

    __slots__ = ("literal",)

    def __init__(self, literal: str) -> None:
        self.literal = literal


class _NotFiniteSeen(Exception):
    """Stops the fast parse at a non-finite number; the slow one then finds where it is."""


def _refuse_constant(literal: str) -> float:
    raise _NotFiniteSeen(literal)


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise _NotFiniteSeen(literal)
    return value


def _marked_float(literal: str) -> float | _NotFinite:
    value = float(literal)
    return value if math.isfinite(value) else _NotFinite(literal)


# Built once: a decoder per call would cost more than the parse of a small body.
_STRICT = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)
_MARKING = json.JSONDecoder(parse_constant=_NotFinite, parse_float=_marked_float)


def loads(body: bytes | str) -> Any:
    """Parse ``body`` as :func:`json.loads` does, refusing what strict JSON cannot hold.

    Raises BadJSONValue for NaN, Infinity, -Infinity, a number that overflows a float and a
    lone surrogate (in a value or a key), UnicodeDecodeError for bytes that are not valid
    UTF-8 (or UTF-16/32) and json.JSONDecodeError for text that is not JSON. Only a body
    that holds such a value (or a surrogate escape) is walked to find where it is.
    """
    if isinstance(body, str):
        text, raw = body, not body.isascii() and _SURROGATE.search(body) is not None
    else:  # a strict decode: surrogates can only come from escapes
        text, raw = body.decode(json.detect_encoding(body)), False
    try:
        value = _STRICT.decode(text)
    except _NotFiniteSeen as seen:
        _check(_MARKING.decode(text))
        # Not found: a repeated key dropped the value, which is still not JSON.
        raise BadJSONValue((), _not_finite_problem(str(seen)), "finite_number") from None
    if raw or _SURROGATE_ESCAPE.search(text):
        _check(value)
    return value


def _check(value: Any) -> None:
    """Raise BadJSONValue for the first bad value or key of ``value``, in document order.

    A loop over an explicit stack, not recursion: the parser allows deeper nesting than
    a recursive walk started deep in a request handler might.
    """
    stack: list[tuple[Path, Any, str | None]] = [((), value, None)]
    while stack:
        path, node, key = stack.pop()
        if key is not None:
            _check_string(path[:-1], key, key=True)
        if isinstance(node, _NotFinite):
            raise BadJSONValue(path, _not_finite_problem(node.literal), "finite_number")
        if isinstance(node, str):
            _check_string(path, node)
        elif isinstance(node, dict):
            stack.extend(reversed([((*path, k), item, k) for k, item in node.items()]))
        elif isinstance(node, list):
            stack.extend(reversed([((*path, i), item, None) for i, item in enumerate(node)]))


def _check_string(path: Path, value: str, *, key: bool = False) -> None:
    found = _SURROGATE.search(value)
    if found is None:
        return
    problem = surrogate_problem(ord(found.group()), in_key=key)
    raise BadJSONValue((*path, printable(value)) if key else path, problem, "string_unicode")


def surrogate_problem(code: int, *, in_key: bool = False) -> str:
    """What is wrong with a lone surrogate ``code`` (a value in U+D800..U+DFFF)."""
    where = " in a key" if in_key else ""
    return (
        f"lone surrogate U+{code:04X} (\\u{code:04x}){where} is half of a UTF-16 pair, "
        "not a character"
    )


def _not_finite_problem(literal: str) -> str:
    if literal in ("NaN", "Infinity", "-Infinity"):
        return f"{literal} is not a JSON number"
    return f"{literal} is too large for a float"


def printable(value: str) -> str:
    """``value`` with any surrogate written as its \\u escape, so it can be encoded in UTF-8."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


class InvalidJSONBody(HTTPException):
    """422 for a body strict JSON refuses, its detail in FastAPI's validation error format.

    An HTTPException because FastAPI re-raises those from body parsing (any other error
    there becomes a bare 400), and the app's handler renders its detail as the body.
    """

    def __init__(self, loc: Path, message: str, kind: str) -> None:
        super().__init__(422, detail=[{"loc": ["body", *loc], "msg": message, "type": kind}])


class StrictJSONRequest(Request):
    """A request whose ``json()`` refuses values the database cannot store (see :func:`loads`)."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = loads(body)
            except BadJSONValue as exc:
                raise InvalidJSONBody(exc.path, exc.message, exc.kind) from None
            except UnicodeDecodeError as exc:
                encoding = exc.encoding.upper().removesuffix("-SIG")
                message = f"the body is not valid {encoding} (byte {exc.start}: {exc.reason})"
                raise InvalidJSONBody((), message, "string_unicode") from None
        return self._json
