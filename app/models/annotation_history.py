"""Labels that were replaced or removed (undo): written by database triggers on
``annotations``, so no code path can lose what a person labelled.

No foreign keys: history outlives the item, user or annotation row it copies.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, utcnow


class AnnotationHistory(Base):
    __tablename__ = "annotation_history"
    __table_args__ = (Index("ix_annotation_history_project_item", "project_id", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    annotation_id: Mapped[int]
    project_id: Mapped[int]
    item_id: Mapped[int]
    user_id: Mapped[int | None]
    labels: Mapped[list[str]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(20))
    labelled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    change: Mapped[str] = mapped_column(String(10))  # "replaced" or "removed"
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    correction: Mapped[str | None] = mapped_column(Text)
