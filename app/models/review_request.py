"""Review requests: an item sent to review by hand (the data manager's "Send to review").

The review queue is otherwise derived (disagreements, flags, suspicious labels); a request adds
an item it would not hold, or one already adjudicated, for a (second) decision. Deciding the
item answers the request, which is then removed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, utcnow


class ReviewRequest(Base):
    __tablename__ = "review_requests"

    item_id: Mapped[int] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
