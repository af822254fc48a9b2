"""Oracles (a language model or a knowledge service that answers for people) and their answers.

An oracle belongs to one project. Its configuration never holds a secret: an API key is named
by the environment variable that holds it. The budget counters are reserved before a call and
settled after it, in the same row, so concurrent workers can never spend past the budget.

A suggestion is one answer for one item, kept apart from human labels: it is shown to people,
measured against their labels, and may vote in the ranking; only the machine-label route (while
its measured accuracy allows) turns suggestions into labels, as annotations of source
``machine``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, utcnow


class Oracle(Base):
    __tablename__ = "oracles"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))  # "openai" | "http"
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    concurrency: Mapped[int] = mapped_column(Integer, default=2)
    budget_calls: Mapped[int | None] = mapped_column(Integer)
    budget_tokens: Mapped[int | None] = mapped_column(Integer)
    cost_per_1k_tokens: Mapped[float | None] = mapped_column(Float)
    calls_used: Mapped[int] = mapped_column(Integer, default=0)
    tokens_used: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)  # in a row; 0 after a good answer
    backoff_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Suggestion(Base):
    __tablename__ = "suggestions"
    __table_args__ = (Index("ix_suggestions_oracle_item", "oracle_id", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    oracle_id: Mapped[int] = mapped_column(ForeignKey("oracles.id", ondelete="CASCADE"))
    # SQL NULL when the call failed (``error``), not JSON null: ``labels IS NOT NULL`` is
    # how every reader finds the answers.
    labels: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    confidence: Mapped[float | None] = mapped_column(Float)
    model: Mapped[str] = mapped_column(String(200))
    prompt_version: Mapped[str] = mapped_column(String(40))
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    latency_seconds: Mapped[float] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    error_kind: Mapped[str | None] = mapped_column(String(20))
    # The published classifier's guess when the oracle answered: what the machine-label
    # route is measured on (oracle and classifier agree, classifier at least this sure).
    classifier_label: Mapped[str | None] = mapped_column(String(200))
    classifier_confidence: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
