"""The model's guess for items in review, from what training already stored: no model is loaded.

The out-of-fold suggestion of the last label-issue search comes first (it was made without
the item's own label); else the newest model's prediction from when the item was unlabelled
and ranked (``rank_entries``). An item neither covers has no guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import LabelIssue, ModelVersion, Project, RankEntry


@dataclass(frozen=True)
class Guess:
    labels: list[str]
    confidence: float | None  # the model's probability of its label (single-label), if known
    source: str  # "label issues" or "model vN"


def model_guesses(session: Session, project: Project, item_ids: list[int]) -> dict[int, Guess]:
    """The model's guess for each of ``item_ids`` that has one."""
    out: dict[int, Guess] = {}
    issues = session.execute(
        select(LabelIssue.item_id, LabelIssue.suggested).where(
            LabelIssue.project_id == project.id, LabelIssue.item_id.in_(item_ids)
        )
    )
    for item_id, suggested in issues:
        out[item_id] = Guess(list(suggested), None, "label issues")
    ranked = session.execute(
        select(RankEntry.item_id, RankEntry.prediction, ModelVersion.version)
        .join(ModelVersion, ModelVersion.id == RankEntry.model_version_id)
        .where(
            ModelVersion.project_id == project.id,
            ModelVersion.version > 0,  # a cold-start ranking has no model behind it
            RankEntry.item_id.in_([i for i in item_ids if i not in out]),
        )
        .order_by(ModelVersion.version.desc())
    )
    for item_id, prediction, version in ranked:
        if item_id not in out and prediction:
            out[item_id] = _from_prediction(prediction, version)
    return out


def _from_prediction(prediction: dict[str, Any], version: int) -> Guess:
    if "label" in prediction:
        label = prediction["label"]
        confidence = prediction.get("probabilities", {}).get(label)
        return Guess([label], confidence, f"model v{version}")
    return Guess(list(prediction.get("labels", [])), None, f"model v{version}")
