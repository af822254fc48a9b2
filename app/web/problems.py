"""Validation problems as sentences for people: the web's forms and query strings name the
field and the value at fault instead of showing Pydantic's JSON (the API keeps FastAPI's)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# Pydantic's messages for bounds and lengths, as a sentence about the field.
BOUNDS = {
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
    "greater_than": "must be more than {gt}",
    "less_than": "must be less than {lt}",
    "string_too_long": "must be at most {max_length} characters",
    "too_long": "may hold at most {max_length} entries",
    "missing": "a value is required",
}
# Where a plainer answer than the rule exists, by (field, problem type): the items screen's
# bulk actions post the ticked rows as ``ids``, and nothing ticked posts no ``ids`` at all.
HINTS = {("ids", "missing"): "Tick at least one item first."}
# What FastAPI names first in a request problem's location: the part of the request.
PARTS = frozenset({"body", "query", "path", "header", "cookie"})
MAX_VALUE_CHARS = 60


def detail(problem: Mapping[str, Any]) -> str:
    """What the field's value must be, from the problem's type (Pydantic's message else)."""
    kind = str(problem.get("type"))
    if kind == "too_long" and isinstance(problem.get("input"), str):
        kind = "string_too_long"  # a length rule on a text with a validator of its own
    template = BOUNDS.get(kind)
    if template is not None:
        try:
            return template.format(**problem.get("ctx", {}))
        except (KeyError, IndexError):
            pass  # a context without the bound: Pydantic's own message says it
    message = str(problem.get("msg", "is not valid")).removeprefix("Value error, ")
    message = message.replace("Input should be", "must be")
    return message[:1].lower() + message[1:]


def problem_sentence(problems: Sequence[Mapping[str, Any]], titles: Mapping[str, str]) -> str:
    """The first problem as a sentence for people: a rule's own message (it names the field
    and the value) as it is, else the field's title (from ``titles``) and what its value must
    be."""
    first = problems[0]
    field = str(first["loc"][0]) if first["loc"] else ""
    if first["type"] == "value_error":
        message = str(first["msg"]).removeprefix("Value error, ")
        return message[:1].upper() + message[1:]
    return f"{titles.get(field, field or 'The form')}: {detail(first)}"


def request_problem(problems: Sequence[Mapping[str, Any]]) -> str:
    """The first problem of a request's query string, form or path as a sentence: the hint
    for it if there is one, else the field as the request names it, what its value must be
    and the value given."""
    if not problems:
        return "The request is not valid."
    first = problems[0]
    loc = [str(part) for part in first.get("loc", ())]
    field = ".".join(loc[1:] if loc and loc[0] in PARTS else loc)
    hint = HINTS.get((field, str(first.get("type"))))
    if hint is not None:
        return hint
    message = f"{field or 'The request'}: {detail(first)}"
    value = first.get("input")
    if first.get("type") != "missing" and isinstance(value, str | int | float):
        text = repr(value)
        cut = f"{text[:MAX_VALUE_CHARS]}…" if len(text) > MAX_VALUE_CHARS else text
        message = f"{message}, not {cut}"
    return message if message[-1:] in ".?!…" else f"{message}."
