"""Ask an OpenAI-compatible chat-completions endpoint for one label of a fixed label set.

The answer is constrained with a JSON schema (an ``enum`` of the labels) and parsed strictly
all the same: servers ignore formats they do not know, so a label outside the set, a reply
that is not JSON, a timeout or a dead server all come back as an error result, never raised.
The API key is read from the environment at each call and appears in no log, repr or error.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from app.oracles.config import OpenAIOracleConfig
from app.oracles.prompt import Example, examples_block

logger = logging.getLogger(__name__)

ErrorKind = Literal["config", "timeout", "unreachable", "http", "format", "label"]
ERROR_BODY_CHARS = 300  # of a server's error response kept in the result
TEMPLATE_TOKENS = 64  # a chat template's own tokens around one user message, and then some


@dataclass(frozen=True, slots=True)
class OracleResult:
    """One answer: a label of the set, or ``None`` and why not."""

    label: str | None
    latency_seconds: float
    # A chat completion carries no calibrated probability of its label: None from this client.
    confidence: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    error: str | None = None
    error_kind: ErrorKind | None = None
    # Whether the request left this process: not when it was refused here (a host not
    # allowed, an unset key: ``config``) nor when no connection could be opened. A call that
    # was never sent costs no budget.
    sent: bool = True

    @property
    def total_tokens(self) -> int | None:
        if self.prompt_tokens is None and self.completion_tokens is None:
            return None
        return (self.prompt_tokens or 0) + (self.completion_tokens or 0)


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Message(_Lenient):
    content: str | None = None


class _Choice(_Lenient):
    message: _Message


class _Usage(_Lenient):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class _Completion(_Lenient):
    """The part of a chat completion read here; anything else the server sends is ignored."""

    choices: list[_Choice]
    usage: _Usage | None = None


class _Answer(BaseModel):
    """The model's reply: a JSON object whose ``label`` is a string (other keys, which a
    server without schema support may add, are ignored)."""

    model_config = ConfigDict(extra="ignore", strict=True)
    label: str


def label_schema(labels: Sequence[str]) -> dict[str, Any]:
    """The JSON schema of an answer: an object with one ``label`` from ``labels``."""
    return {
        "type": "object",
        "properties": {"label": {"type": "string", "enum": list(labels)}},
        "required": ["label"],
        "additionalProperties": False,
    }


def response_format(config: OpenAIOracleConfig, labels: Sequence[str]) -> dict[str, Any] | None:
    """``response_format`` in the spelling the server understands (see ``ResponseFormat``)."""
    schema = label_schema(labels)
    match config.response_format:
        case "json_schema":
            return {
                "type": "json_schema",
                "json_schema": {"name": "label", "strict": True, "schema": schema},
            }
        case "json_object_schema":
            return {"type": "json_object", "schema": schema}
        case "json_object":
            return {"type": "json_object"}
        case "none":
            return None


class BadAnswer(ValueError):
    """A reply that is not one label of the set; ``kind`` is ``format`` or ``label``."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind


def parse_label(content: str, labels: Sequence[str]) -> str:
    """The label of a reply ``{"label": "..."}``; :class:`BadAnswer` for anything else."""
    try:
        answer = _Answer.model_validate_json(content)
    except ValidationError:
        message = f'the reply is not {{"label": ...}} JSON: {content[:100]!r}'
        raise BadAnswer("format", message) from None
    if answer.label not in labels:
        message = f"the reply's label {answer.label[:100]!r} is not in the label set"
        raise BadAnswer("label", message)
    return answer.label


class OpenAIOracle:
    """A client for one endpoint and one label set; thread-safe, reuses its connections."""

    def __init__(
        self, config: OpenAIOracleConfig, labels: Sequence[str], *, instructions: str = ""
    ) -> None:
        if len(set(labels)) != len(labels) or not labels:
            raise ValueError("give a non-empty label set without repeats")
        self.config = config
        self.labels = tuple(labels)
        self.instructions = instructions
        self._http = httpx.Client(
            base_url=str(config.base_url).rstrip("/") + "/",
            timeout=httpx.Timeout(config.timeout_seconds),
        )

    def __repr__(self) -> str:
        return (
            f"OpenAIOracle(base_url={str(self.config.base_url)!r}, model={self.config.model!r}, "
            f"labels={len(self.labels)})"
        )

    def __enter__(self) -> OpenAIOracle:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def messages(self, text: str, examples: Sequence[Example] = ()) -> list[dict[str, str]]:
        """One user message: the task, the label set, the instructions, a few labelled
        examples and the text (Gemma and other small models have no system role; their chat
        formats drop a system message)."""
        task = (
            'Classify the text below. Reply with JSON {"label": L} where L is exactly one of '
            "these labels: " + ", ".join(self.labels) + "."
        )
        for part in (self.instructions, examples_block(examples)):
            if part:
                task += "\n\n" + part
        return [{"role": "user", "content": f"{task}\n\nText: {text}"}]

    def request_body(self, text: str, examples: Sequence[Example] = ()) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.config.model,
            "messages": self.messages(text, examples),
            "temperature": self.config.temperature,
            "max_tokens": self.config.max_tokens,
        }
        constraint = response_format(self.config, self.labels)
        if constraint is not None:
            body["response_format"] = constraint
        return body

    def token_bound(self, text: str, examples: Sequence[Example] = ()) -> int:
        """At most how many tokens asking about ``text`` can cost: a byte-level tokenizer
        never makes more tokens than UTF-8 bytes, plus the chat template and the answer."""
        content = self.messages(text, examples)[0]["content"]
        return len(content.encode()) + TEMPLATE_TOKENS + self.config.max_tokens

    def classify(self, text: str, examples: Sequence[Example] = ()) -> OracleResult:
        """One label for ``text``; every failure is an error result, never an exception."""
        started = time.perf_counter()
        key, problem = self._api_key()
        if problem is not None:
            return OracleResult(None, 0.0, error=problem, error_kind="config", sent=False)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        try:
            response = self._http.post(
                "chat/completions", json=self.request_body(text, examples), headers=headers
            )
        except httpx.TimeoutException as exc:
            message = f"no answer in {self._timeout()}"
            result = self._failed(started, "timeout", message, sent=was_sent(exc))
        except httpx.HTTPError as exc:  # refused, reset, closed mid-answer, bad URL
            message = f"{type(exc).__name__}: {exc}"
            result = self._failed(started, "unreachable", message, key, sent=was_sent(exc))
        else:
            result = self._read(response, time.perf_counter() - started, key)
        logger.debug(
            "oracle %s: %s in %.2f s (%s tokens)",
            self.config.model,
            result.label if result.error is None else f"error ({result.error_kind})",
            result.latency_seconds,
            result.total_tokens,
        )
        return result

    def _api_key(self) -> tuple[str | None, str | None]:
        name = self.config.api_key_env
        if name is None:
            return None, None
        value = os.environ.get(name, "")
        if not value:
            return None, f"the environment variable {name} that should hold the API key is unset"
        return value, None

    def _timeout(self) -> str:
        return f"{self.config.timeout_seconds:g} s"

    def _failed(
        self,
        started: float,
        kind: ErrorKind,
        message: str,
        key: str | None = None,
        *,
        sent: bool = True,
    ) -> OracleResult:
        latency = time.perf_counter() - started
        error = redact(message, key)
        return OracleResult(None, latency, error=error, error_kind=kind, sent=sent)

    def _read(self, response: httpx.Response, latency: float, key: str | None) -> OracleResult:
        if response.status_code != 200:
            body = redact(response.text[:ERROR_BODY_CHARS], key)
            error = f"HTTP {response.status_code}: {body}"
            return OracleResult(None, latency, error=error, error_kind="http")
        try:
            completion = _Completion.model_validate_json(response.content)
        except ValidationError:
            error = "the answer is not a chat completion"
            return OracleResult(None, latency, error=error, error_kind="format")
        usage = completion.usage or _Usage()
        counted = OracleResult(None, latency, None, usage.prompt_tokens, usage.completion_tokens)
        if not completion.choices or completion.choices[0].message.content is None:
            error = "the answer has no message content"
            return replace(counted, error=error, error_kind="format")
        choice = completion.choices[0]
        try:
            label = parse_label(choice.message.content or "", self.labels)
        except BadAnswer as exc:
            return replace(counted, error=str(exc), error_kind=exc.kind)
        return replace(counted, label=label)


def was_sent(exc: httpx.HTTPError) -> bool:
    """Whether the request had left this process when httpx raised ``exc``: not when no
    connection could be opened (refused, no route, a failed TLS handshake, a connect timeout)."""
    return not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)


def redact(text: str, key: str | None) -> str:
    """A server may echo the key (or part of it) in an error: never keep it."""
    return text.replace(key, "***") if key else text
