"""Label tallies: how many annotations of a project carry each label.

Maintained by database triggers (migration 0005) in the transaction of every annotation
insert, update and delete, so the dashboard's label distribution is one indexed read.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class LabelTally(Base):
    __tablename__ = "label_tallies"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    label: Mapped[str] = mapped_column(String(200), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)
