"""Oracle request and response bodies. No field ever holds a secret: a key is named by the
environment variable that holds it (``config.api_key_env``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.fields import Text
from app.oracles.config import OracleKind


class OracleIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    name: Text = Field(min_length=1, max_length=100)
    kind: OracleKind
    config: dict[str, Any] = Field(
        description="`openai`: base_url, model, api_key_env, temperature, timeout_seconds, "
        "max_tokens, response_format. `http`: url, api_key_env, timeout_seconds, batch_size."
    )
    enabled: bool = True
    concurrency: int = Field(default=2, ge=1, le=16, description="Calls in flight at once.")
    budget_calls: int | None = Field(default=None, ge=0, le=10**9)
    budget_tokens: int | None = Field(default=None, ge=0, le=10**12)
    cost_per_1k_tokens: float | None = Field(default=None, ge=0.0, le=1000.0)


class OraclePatch(BaseModel):
    """Fields to change; ``config`` replaces the whole configuration."""

    model_config = ConfigDict(strict=True, extra="forbid")

    name: Text | None = Field(default=None, min_length=1, max_length=100)
    config: dict[str, Any] | None = None
    enabled: bool | None = None
    concurrency: int | None = Field(default=None, ge=1, le=16)
    budget_calls: int | None = Field(default=None, ge=0, le=10**9)
    budget_tokens: int | None = Field(default=None, ge=0, le=10**12)
    cost_per_1k_tokens: float | None = Field(default=None, ge=0.0, le=1000.0)
    reset_usage: bool = Field(default=False, description="Set calls and tokens used to 0.")


class Interval(BaseModel):
    low: float
    high: float


class RouteOut(BaseModel):
    """The machine-label route: oracle and model agree, the model at least ``threshold`` sure."""

    threshold: float
    target: float
    n: int = Field(description="Human-labelled items that were in the route when suggested.")
    accuracy: float | None
    interval: Interval | None
    open: bool = Field(description="The interval's lower bound is above the target.")
    machine_labels: int


class TrustOut(BaseModel):
    """How far the oracle can be trusted, measured on items people labelled too."""

    n: int = Field(description="Items with both a suggestion and a final human label.")
    accuracy: float | None
    interval: Interval | None
    macro_f1: float | None
    agreement_with_model: float | None
    n_with_model: int
    accepted_share: float | None = Field(description="Shown suggestions people accepted.")
    n_shown: int
    route: RouteOut


class OracleOut(BaseModel):
    id: int
    name: str
    kind: OracleKind
    config: dict[str, Any]
    enabled: bool
    concurrency: int
    budget_calls: int | None
    budget_tokens: int | None
    cost_per_1k_tokens: float | None
    calls_used: int
    tokens_used: int
    cost: float | None
    failures: int
    backoff_until: datetime | None
    last_error: str | None
    created_at: datetime


class OracleStatsOut(BaseModel):
    oracle: OracleOut
    answered: int
    errors: dict[str, int]
    coverage: float | None = Field(description="Share of the pool's items with an answer.")
    latency_median: float | None
    latency_p95: float | None
    trust: TrustOut


class SuggestionOut(BaseModel):
    id: int
    oracle: str
    labels: list[str]
    confidence: float | None
