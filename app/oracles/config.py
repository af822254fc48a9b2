"""Typed configuration of an OpenAI-compatible oracle; the API key itself is never in it."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, HttpUrl

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _env_name(value: str) -> str:
    """Refuse anything but a variable name: a pasted key here would end up in logs and exports."""
    if not _ENV_NAME.fullmatch(value):
        raise ValueError("give the name of an environment variable that holds the key, not a key")
    return value


EnvName = Annotated[str, Field(max_length=128), AfterValidator(_env_name)]


def _no_secret(url: HttpUrl) -> HttpUrl:
    """Refuse credentials in a URL: the URL is shown on pages and in the audit log."""
    if url.username or url.password:
        raise ValueError("no credentials in the URL: name the key's environment variable")
    return url


PlainUrl = Annotated[HttpUrl, AfterValidator(_no_secret)]

# What is sent as `response_format` (the reply is checked whatever the server does):
# `json_schema`: the OpenAI spelling, with the label set as an `enum` (OpenAI, vLLM, Ollama,
# llama.cpp's C++ server); `json_object_schema`: `{"type": "json_object", "schema": ...}`, the
# spelling of llama-cpp-python's server (`labelloop oracle serve-local`); `json_object`: plain
# JSON mode without a schema; `none`: nothing, for a server that refuses `response_format`.
ResponseFormat = Literal["json_schema", "json_object_schema", "json_object", "none"]


class OpenAIOracleConfig(BaseModel):
    """Where the chat-completions endpoint is and how to ask it."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    base_url: PlainUrl = Field(
        description="Up to and including `/v1`, e.g. http://127.0.0.1:8080/v1."
    )
    model: str = Field(min_length=1, max_length=200)
    api_key_env: EnvName | None = Field(
        default=None,
        description="The environment variable holding the API key (sent as a bearer token); "
        "unset: no key is sent.",
    )
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    timeout_seconds: float = Field(default=30.0, gt=0.0, le=600.0)
    max_tokens: int = Field(
        default=64, gt=0, le=4096, description="A label in JSON needs a few dozen tokens."
    )
    response_format: ResponseFormat = "json_schema"


class HttpOracleConfig(BaseModel):
    """A knowledge source of the user's: ``POST {"texts": [...], "labels": [...]}`` answered
    with ``{"labels": [...], "confidences": [...]}``, one label (or None) per text."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    url: PlainUrl
    api_key_env: EnvName | None = Field(
        default=None, description="The environment variable holding a bearer token, if any."
    )
    timeout_seconds: float = Field(default=30.0, gt=0.0, le=600.0)
    batch_size: int = Field(default=16, ge=1, le=256, description="Texts per request.")


OracleKind = Literal["openai", "http"]
CONFIGS: dict[str, type[OpenAIOracleConfig] | type[HttpOracleConfig]] = {
    "openai": OpenAIOracleConfig,
    "http": HttpOracleConfig,
}


def parse_config(kind: str, raw: dict[str, object]) -> OpenAIOracleConfig | HttpOracleConfig:
    """The typed configuration of an oracle of ``kind`` (stored JSON is validated on read too)."""
    return CONFIGS[kind].model_validate(raw, strict=False)
