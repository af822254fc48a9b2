"""Request validation problems as sentences: a hint where there is one, else the field, what
its value must be and the value given, whatever shape the problem comes in."""

from __future__ import annotations

from typing import Any

import pytest

from app.web.problems import request_problem


def _problem(kind: str, loc: tuple[Any, ...], value: Any = None, **ctx: Any) -> dict[str, Any]:
    return {"type": kind, "loc": loc, "msg": f"Input should be {kind}", "input": value, "ctx": ctx}


def test_nothing_ticked_gets_the_hint() -> None:
    assert request_problem([_problem("missing", ("body", "ids"))]) == (
        "Tick at least one item first."
    )


@pytest.mark.parametrize(
    ("problem", "sentence"),
    [
        (
            _problem("greater_than_equal", ("query", "after"), "-1", ge=0),
            "after: must be at least 0, not '-1'.",
        ),
        (_problem("missing", ("body", "label")), "label: a value is required."),
        (_problem("missing", ("body",)), "The request: a value is required."),
        (
            _problem("too_long", ("body", "ids"), [1, 2, 3], max_length=2),
            "ids: may hold at most 2 entries.",
        ),
        (
            _problem("too_long", ("query", "q"), "abc", max_length=2),
            "q: must be at most 2 characters, not 'abc'.",
        ),
        (
            _problem("greater_than_equal", ("body", "ids", 0), 0, ge=1),
            "ids.0: must be at least 1, not 0.",
        ),
    ],
)
def test_names_the_field_the_rule_and_the_value(problem: dict[str, Any], sentence: str) -> None:
    assert request_problem([problem]) == sentence


def test_a_rule_without_its_bound_says_pydantics_message() -> None:
    problem = _problem("less_than_equal", ("query", "limit"), 9)
    assert request_problem([problem]) == "limit: must be less_than_equal, not 9."


def test_a_long_value_is_cut_and_no_problem_is_still_a_sentence() -> None:
    sentence = request_problem([_problem("literal_error", ("query", "sort"), "z" * 500)])
    assert sentence.endswith("…") and len(sentence) < 120
    assert request_problem([]) == "The request is not valid."
