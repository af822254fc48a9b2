"""Leases: an item served to one caller, reserved until it expires.

An item has one lease per *slot*: a project with overlap k asks k annotators for each item, so
its items have slots 0 .. k-1; with overlap 1 every lease is slot 0.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, false
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime


class Lease(Base):
    __tablename__ = "leases"
    # A caller's live leases, without stepping over the settled ones of the items they labelled.
    __table_args__ = (
        Index("ix_leases_project_user_expires", "project_id", "user_id", "expires_at"),
    )

    # The primary key on (item_id, slot) is what makes a double lease of a slot impossible.
    item_id: Mapped[int] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    slot: Mapped[int] = mapped_column(Integer, primary_key=True, default=0, server_default="0")
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The holder passed on the item: it is free for others, but not served to them again.
    skipped: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
