"""Annotations: one annotator's label(s) for one item; imported seed labels have no user."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, utcnow


class Annotation(Base):
    __tablename__ = "annotations"
    __table_args__ = (
        UniqueConstraint("item_id", "user_id"),
        # The labelled items of a project in id order (items page, ``status=labeled``).
        Index("ix_annotations_project_item", "project_id", "item_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    labels: Mapped[list[str]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(20), default="human")
    # The annotator's doubt: "unsure" (or a comment) sends the item to review.
    flag: Mapped[str | None] = mapped_column(String(20))
    comment: Mapped[str | None] = mapped_column(Text)
    # The oracle suggestion the annotator was shown (``suggestions.id``) and whether the label
    # is that suggestion ("accepted") or not ("changed"): how far suggestions sway people.
    suggestion_id: Mapped[int | None] = mapped_column(Integer)
    suggestion: Mapped[str | None] = mapped_column(String(10))
    # Translation review: the annotator's corrected translation, kept with the label.
    correction: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
