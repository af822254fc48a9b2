"""Who works on a project, and as what: one row per (project, user), with a project role.

Instance admins need no row: they see and manage every project (``app.projects.members``).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, utcnow


class ProjectRole(StrEnum):
    """Roles in one project, least first: each may do what the ones before it may."""

    ANNOTATOR = "annotator"  # labels, sees their own work and their own export rows
    REVIEWER = "reviewer"  # an annotator who also sees every export row (and, later, reviews)
    MANAGER = "manager"  # everything in the project: settings, imports, training, members

    @property
    def rank(self) -> int:
        return list(ProjectRole).index(self)


class ProjectMember(Base):
    __tablename__ = "project_members"
    # The unique constraint's index serves the per-request lookup by (project, user).
    __table_args__ = (UniqueConstraint("project_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
