"""The model's guess for one item brought back off the queue's path (an undone label): the
prediction stored with the newest ranking that holds it. No model is loaded: the web process
never embeds pool items (README, Features)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import ModelVersion, RankEntry


def stored_prediction(session: Session, project_id: int, item_id: int) -> dict[str, Any] | None:
    """The prediction dict the queue showed for the item; None if no model ever ranked it."""
    stored = session.scalar(
        select(RankEntry.prediction)
        .join(ModelVersion, ModelVersion.id == RankEntry.model_version_id)
        .where(
            ModelVersion.project_id == project_id,
            ModelVersion.version > 0,  # a cold-start ranking has no model behind it
            RankEntry.item_id == item_id,
        )
        .order_by(ModelVersion.version.desc())
        .limit(1)
    )
    return stored or None
