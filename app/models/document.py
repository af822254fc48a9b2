"""Documents of a sentence-selection project: each is split into sentence items on import.

The text is stored once here; a sentence item keeps its position and character offsets, so
``text[start_offset:end_offset]`` is the sentence exactly as it appears in the document.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, utcnow


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("project_id", "text_hash"),
        UniqueConstraint("project_id", "external_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)
    text_hash: Mapped[bytes] = mapped_column(LargeBinary(16))  # as items.text_hash
    n_sentences: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
