"""The error helpers: validation problems echo short inputs only."""

from __future__ import annotations

from app.errors import MAX_ECHO_CHARS, short_inputs


def _problem(value: object) -> dict[str, object]:
    return {"type": "too_long", "loc": ["body", "texts"], "msg": "too long", "input": value}


def test_short_inputs_keep_small_values_and_drop_large_ones() -> None:
    small = [_problem("bogus"), _problem(["a", "b"]), _problem({"k": 1}), _problem(3)]
    assert short_inputs(small) == small
    large = [
        _problem("x" * MAX_ECHO_CHARS),
        _problem(["x" * 100] * 1_000),
        _problem({"fields": {"source": "x" * MAX_ECHO_CHARS}}),
    ]
    for problem in short_inputs(large):
        assert "input" not in problem and problem["loc"] == ["body", "texts"]


def test_a_problem_without_input_is_kept_as_it_is() -> None:
    problem = {"type": "missing", "loc": ["body", "name"], "msg": "Field required"}
    assert short_inputs([problem]) == [problem]
