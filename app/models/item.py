"""Items: one text of a project's pool, stored once per project (by text hash)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, utcnow


class Item(Base):
    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("project_id", "text_hash"),
        UniqueConstraint("project_id", "external_id"),
        # Keyset pagination of a project's items by id.
        Index("ix_items_project_id_id", "project_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)
    text_hash: Mapped[str] = mapped_column(String(64))
    # Seeded pseudo-random order used before the first model exists.
    random_key: Mapped[int] = mapped_column(BigInteger)
    # Has at least one annotation: kept by triggers on ``annotations`` (migration 0006).
    labeled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Served as part of the uniformly random audit sample: its labels measure the model
    # (honest accuracy) and are never trained on.
    audit: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


UNLABELED = Item.__table__.c.labeled == false()
# The seeded random order of a project's unlabelled items: the queue's order before a
# ranking exists and beyond its end. Labelled items leave the index, so finding the next
# free item skips only leased ones, however many are labelled.
Index(
    "ix_items_unlabeled_random",
    Item.project_id,
    Item.random_key,
    sqlite_where=UNLABELED,
    postgresql_where=UNLABELED,
)
# A project's audit items (a few per cent of its labels): counted by every queue request.
AUDIT = Item.__table__.c.audit == true()
Index(
    "ix_items_audit",
    Item.project_id,
    Item.random_key,
    sqlite_where=AUDIT,
    postgresql_where=AUDIT,
)
