"""Projects: the label set, the query strategy and the pointer to the published model."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, utcnow


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    labels: Mapped[list[str]] = mapped_column(JSON)
    multi_label: Mapped[bool] = mapped_column(Boolean, default=False)
    strategy: Mapped[str] = mapped_column(String(50))
    batch_size: Mapped[int] = mapped_column(Integer)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    random_seed: Mapped[int] = mapped_column(Integer)
    # Bumped by every label write (an undo takes its step back, app.training.service); a run
    # records the value it saw, so "new labels since the last run" is a subtraction, with no
    # scan of the annotations table.
    label_events: Mapped[int] = mapped_column(Integer, default=0)
    # Bumped by every import that adds items; feature caches are keyed by it.
    pool_version: Mapped[int] = mapped_column(Integer, default=0)
    # The published model version. A plain column, not a foreign key: model_versions
    # already points here, and the publish transaction is the only writer.
    current_model_id: Mapped[int | None] = mapped_column(Integer)
    # Maintained by database triggers (migration 0005) in the transaction of every write to
    # items / annotations, whoever writes: pages read two columns instead of counting 1M rows.
    n_items: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    n_labeled: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # What annotators (and an oracle's prompt) are told about the task, and one line per label.
    guidelines: Mapped[str] = mapped_column(Text, default="", server_default="")
    label_descriptions: Mapped[dict[str, str]] = mapped_column(
        JSON, default=dict, server_default=text("'{}'")
    )
    # The task shape: what an item is and how it is labelled (``app.projects.shape``).
    task: Mapped[str] = mapped_column(
        String(40), default="classification", server_default="classification"
    )
    item_fields: Mapped[list[str]] = mapped_column(JSON, default=list, server_default=text("'[]'"))
    primary_field: Mapped[str] = mapped_column(String(100), default="text", server_default="text")
    layout: Mapped[str] = mapped_column(String(20), default="stacked", server_default="stacked")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
