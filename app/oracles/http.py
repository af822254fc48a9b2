"""A knowledge source of the user's behind plain HTTP: texts in, one label per text out.

``POST {"texts": [...], "labels": [...]}`` must answer ``{"labels": [...], "confidences":
[...]}``: one label of the set (or null: no answer) per text, in order, and optionally one
confidence in [0, 1] per text. Anything else is an error result for every text of the request
(never raised); the bearer token, if any, is read from the environment at each call.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from app.oracles.config import HttpOracleConfig
from app.oracles.openai import ERROR_BODY_CHARS, ErrorKind, OracleResult, redact, was_sent


class _Reply(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)
    labels: list[str | None]
    confidences: list[float | None] | None = None


class HttpOracle:
    """A client for one knowledge service and one label set."""

    def __init__(self, config: HttpOracleConfig, labels: Sequence[str]) -> None:
        self.config = config
        self.labels = tuple(labels)
        self._http = httpx.Client(timeout=httpx.Timeout(config.timeout_seconds))

    def __repr__(self) -> str:
        return f"HttpOracle(url={str(self.config.url)!r}, labels={len(self.labels)})"

    def close(self) -> None:
        self._http.close()

    def classify_many(self, texts: Sequence[str]) -> list[OracleResult]:
        """One result per text, asked ``batch_size`` texts per request."""
        out: list[OracleResult] = []
        size = self.config.batch_size
        for start in range(0, len(texts), size):
            out += self._ask(texts[start : start + size])
        return out

    def _ask(self, texts: Sequence[str]) -> list[OracleResult]:
        started = time.perf_counter()
        key = os.environ.get(self.config.api_key_env or "", "") if self.config.api_key_env else ""
        if self.config.api_key_env and not key:
            error = f"the environment variable {self.config.api_key_env} is unset"
            return _all(texts, 0.0, "config", error, sent=False)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        body = {"texts": list(texts), "labels": list(self.labels)}
        try:
            response = self._http.post(str(self.config.url), json=body, headers=headers)
        except httpx.TimeoutException as exc:
            error = f"no answer in {self.config.timeout_seconds:g} s"
            latency = time.perf_counter() - started
            return _all(texts, latency, "timeout", error, sent=was_sent(exc))
        except httpx.HTTPError as exc:
            error = redact(f"{type(exc).__name__}: {exc}", key)
            latency = time.perf_counter() - started
            return _all(texts, latency, "unreachable", error, sent=was_sent(exc))
        latency = (time.perf_counter() - started) / max(len(texts), 1)
        if response.status_code != 200:
            error = redact(f"HTTP {response.status_code}: {response.text[:ERROR_BODY_CHARS]}", key)
            return _all(texts, latency, "http", error)
        return self._read(response.content, texts, latency)

    def _read(self, content: bytes, texts: Sequence[str], latency: float) -> list[OracleResult]:
        try:
            reply = _Reply.model_validate_json(content)
        except ValidationError:
            return _all(texts, latency, "format", 'the answer is not {"labels": [...]} JSON')
        confidences = reply.confidences or [None] * len(reply.labels)
        if len(reply.labels) != len(texts) or len(confidences) != len(texts):
            error = f"{len(reply.labels)} labels for {len(texts)} texts"
            return _all(texts, latency, "format", error)
        out = []
        for label, confidence in zip(reply.labels, confidences, strict=True):
            out.append(self._one(label, confidence, latency))
        return out

    def _one(self, label: str | None, confidence: float | None, latency: float) -> OracleResult:
        if label is None:
            return OracleResult(None, latency, error="no answer", error_kind="label")
        if label not in self.labels:
            error = f"the label {label[:100]!r} is not in the label set"
            return OracleResult(None, latency, error=error, error_kind="label")
        if confidence is not None and not 0.0 <= confidence <= 1.0:
            error = f"confidence {confidence} is outside [0, 1]"
            return OracleResult(None, latency, error=error, error_kind="format")
        return OracleResult(label, latency, confidence=confidence)


def _all(
    texts: Sequence[str], latency: float, kind: ErrorKind, error: str, *, sent: bool = True
) -> list[OracleResult]:
    return [OracleResult(None, latency, error=error, error_kind=kind, sent=sent) for _ in texts]
