"""Leases: an item served to one caller, reserved until it expires (one lease per item)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, false
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime


class Lease(Base):
    __tablename__ = "leases"
    # A caller's live leases, without stepping over the settled ones of the items they labelled.
    __table_args__ = (
        Index("ix_leases_project_user_expires", "project_id", "user_id", "expires_at"),
    )

    # The primary key on item_id is what makes a double lease impossible.
    item_id: Mapped[int] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The holder passed on the item: it is free for others, but not served to them again.
    skipped: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
