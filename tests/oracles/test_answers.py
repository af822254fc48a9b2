"""The parts of the oracle client that need no server: configuration, requests, strict parsing."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.oracles.config import OpenAIOracleConfig
from app.oracles.openai import BadAnswer, OpenAIOracle, parse_label, response_format

LABELS = ["card_arrival", "exchange_rate", "pin_blocked"]


def _config(**options: object) -> OpenAIOracleConfig:
    fields = {"base_url": "http://127.0.0.1:8080/v1", "model": "m", **options}
    return OpenAIOracleConfig.model_validate(fields)


def test_parses_a_label_of_the_set() -> None:
    assert parse_label('{"label": "pin_blocked"}', LABELS) == "pin_blocked"
    assert parse_label(' {"label":"card_arrival"}\n', LABELS) == "card_arrival"
    # JSON mode without a schema: the model may add keys; the label decides.
    assert parse_label('{"label": "card_arrival", "why": "..."}', LABELS) == "card_arrival"


@pytest.mark.parametrize(
    "reply, kind",
    [
        ('{"label": "banana"}', "label"),
        ('{"label": "Card_Arrival"}', "label"),  # labels are matched exactly
        ('{"labels": "card_arrival"}', "format"),
        ('{"label": ["card_arrival"]}', "format"),
        ('{"label": 3}', "format"),
        ('["card_arrival"]', "format"),
        ('{"label": "card_arr', "format"),  # cut off at max_tokens
        ("card_arrival", "format"),
        ("", "format"),
    ],
)
def test_refuses_any_other_reply(reply: str, kind: str) -> None:
    with pytest.raises(BadAnswer) as raised:
        parse_label(reply, LABELS)
    assert raised.value.kind == kind


def test_asks_for_the_label_set_in_either_spelling() -> None:
    schema = {
        "type": "object",
        "properties": {"label": {"type": "string", "enum": LABELS}},
        "required": ["label"],
        "additionalProperties": False,
    }
    openai = response_format(_config(), LABELS)
    assert openai == {
        "type": "json_schema",
        "json_schema": {"name": "label", "strict": True, "schema": schema},
    }
    older = response_format(_config(response_format="json_object_schema"), LABELS)
    assert older == {"type": "json_object", "schema": schema}
    assert response_format(_config(response_format="json_object"), LABELS) == {
        "type": "json_object"
    }
    assert response_format(_config(response_format="none"), LABELS) is None


def test_the_request_names_every_label_and_the_model() -> None:
    with OpenAIOracle(_config(temperature=0.3), LABELS, instructions="Be brief.") as oracle:
        body = oracle.request_body("Where is my card?")
    (message,) = body["messages"]
    assert message["role"] == "user" and all(label in message["content"] for label in LABELS)
    assert "Be brief." in message["content"]
    assert message["content"].endswith("\n\nText: Where is my card?")
    assert body["model"] == "m" and body["temperature"] == 0.3 and body["max_tokens"] == 64


def test_an_unset_key_variable_is_an_error_result_before_any_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LABELLOOP_TEST_UNSET_KEY", raising=False)
    # Port 9 (discard) is never asked: the result comes back before a connection is tried.
    config = _config(base_url="http://127.0.0.1:9/v1", api_key_env="LABELLOOP_TEST_UNSET_KEY")
    with OpenAIOracle(config, LABELS) as oracle:
        result = oracle.classify("Where is my card?")
    assert result.label is None and result.error_kind == "config"
    assert result.error and "LABELLOOP_TEST_UNSET_KEY" in result.error


@pytest.mark.parametrize(
    "options",
    [
        {"api_key_env": "sk-live-1234567890abcdef"},  # a key pasted where its variable goes
        {"api_key_env": "MY KEY"},
        {"temperature": 2.5},
        {"timeout_seconds": 0},
        {"base_url": "not a url"},
        {"model": ""},
        {"api_key": "sk-1234"},  # the key itself is never configuration
    ],
)
def test_refuses_a_bad_configuration(options: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        _config(**options)


def test_refuses_an_empty_or_repeated_label_set() -> None:
    for labels in ([], ["a", "a"]):
        with pytest.raises(ValueError, match="label set"):
            OpenAIOracle(_config(), labels)
