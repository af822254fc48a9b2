"""Label issues: a project's labelled items ranked by how likely their label is wrong.

Each training run replaces its project's rows (confident learning on out-of-fold
probabilities, ``app.learning.label_issues``); rank 0 is the most suspicious label.
"""

from __future__ import annotations

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class LabelIssue(Base):
    __tablename__ = "label_issues"
    __table_args__ = (Index("ix_label_issues_project_rank", "project_id", "rank"),)

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    item_id: Mapped[int] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    run_id: Mapped[int] = mapped_column(Integer)  # the training run that found it
    rank: Mapped[int] = mapped_column(Integer)
    # The model's out-of-fold probability of the given label (low: likely wrong).
    score: Mapped[float] = mapped_column(Float)
    suggested: Mapped[list[str]] = mapped_column(JSON)  # the model's labels for the item
