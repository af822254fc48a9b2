"""The data manager's filters: what each one means in SQL, and the model's view of the pool.

Every filter narrows a keyset walk over ``items`` (``listing.list_items``); the two that need
the consensus rule (final label, disagreement) are checked again on each fetched batch by
``listing``, since a final label is not a column. The model's prediction, confidence and score
come from the published version's ranking (``rank_entries``: at most ``ranking_depth`` rows).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, String, cast, exists, func, select, true
from sqlalchemy.orm import Session

from app.models import Adjudication, Annotation, Item, Project, RankEntry, User

ItemStatus = Literal["all", "labeled", "unlabeled", "disagreement", "audit"]
Source = Literal["human", "import"]
Sort = Literal["id", "score"]
STATUSES: tuple[ItemStatus, ...] = ("all", "labeled", "unlabeled", "disagreement", "audit")
SOURCES: tuple[Source, ...] = ("human", "import")
SORTS: tuple[Sort, ...] = ("id", "score")


@dataclass(frozen=True)
class ItemFilter:
    """What the table shows. ``own_user_id`` is an annotator's view: their own rows only."""

    q: str | None = None  # substring of the text, any case
    label: str | None = None  # final label (an annotator's view: their own label)
    annotator: str | None = None  # user name
    status: ItemStatus = "all"
    source: Source | None = None
    prediction: str | None = None  # the published model's best label
    min_confidence: float | None = None  # the probability of that label
    max_confidence: float | None = None
    sort: Sort = "id"
    own_user_id: int | None = None

    @property
    def needs_ranking(self) -> bool:
        bounds = (self.min_confidence, self.max_confidence)
        return self.sort == "score" or self.prediction is not None or bounds != (None, None)

    @property
    def needs_outcomes(self) -> bool:
        """Whether a fetched row must still pass the consensus rule (never in an annotator's
        view: an outcome is made of other people's labels)."""
        if self.own_user_id is not None:
            return False
        return self.label is not None or self.status == "disagreement"


@dataclass(frozen=True)
class Guess:
    """The published model's view of one ranked item."""

    label: str | None  # best label (multi-label: the first predicted one)
    confidence: float | None  # its probability
    score: float  # the strategy's score: higher = more informative


def guess_of(entry_score: float, prediction: dict[str, Any]) -> Guess:
    probabilities: dict[str, float] = prediction.get("probabilities") or {}
    label = prediction.get("label")
    if label is None:
        labels = prediction.get("labels") or []
        label = labels[0] if labels else None
    confidence = probabilities.get(label) if label is not None else None
    return Guess(label=label, confidence=confidence, score=entry_score)


def guesses(session: Session, project: Project, item_ids: list[int]) -> dict[int, Guess]:
    """The published model's guess for those of ``item_ids`` it ranked."""
    if project.current_model_id is None or not item_ids:
        return {}
    rows = session.execute(
        select(RankEntry.item_id, RankEntry.score, RankEntry.prediction).where(
            RankEntry.model_version_id == project.current_model_id,
            RankEntry.item_id.in_(item_ids),
        )
    )
    return {item_id: guess_of(score, prediction) for item_id, score, prediction in rows}


def ranked(session: Session, project: Project, flt: ItemFilter) -> list[tuple[float, int]]:
    """The ranked items that pass the model filters, as (score, item id): best score first
    (``sort="score"``), else in id order."""
    if project.current_model_id is None:
        return []
    rows = session.execute(
        select(RankEntry.item_id, RankEntry.score, RankEntry.prediction).where(
            RankEntry.model_version_id == project.current_model_id
        )
    )
    out = []
    for item_id, score, prediction in rows:
        guess = guess_of(score, prediction)
        if _passes(guess, flt):
            out.append((score, item_id))
    if flt.sort == "score":
        out.sort(key=lambda pair: (-pair[0], pair[1]))
    else:
        out.sort(key=lambda pair: pair[1])
    return out


def _passes(guess: Guess, flt: ItemFilter) -> bool:
    if flt.prediction is not None and guess.label != flt.prediction:
        return False
    confidence = guess.confidence if guess.confidence is not None else 0.0
    if flt.min_confidence is not None and confidence < flt.min_confidence:
        return False
    return flt.max_confidence is None or confidence <= flt.max_confidence


def conditions(session: Session, project: Project, flt: ItemFilter) -> list[ColumnElement[bool]]:
    """The SQL conditions on ``items`` that the filter implies (besides the project).

    In an annotator's view (``own_user_id``) every filter on labels looks at their own labels
    only, and ``disagreement`` matches nothing: labelling is blind, so a filter must not tell
    them where someone else chose differently (or who else labelled an item, or its seed).
    """
    own = flt.own_user_id
    mine = true() if own is None else Annotation.user_id == own
    out: list[ColumnElement[bool]] = []
    if flt.q:
        out.append(Item.text.icontains(flt.q, autoescape=True))
    out += _status(flt.status) if own is None or flt.status != "disagreement" else [~true()]
    if own is not None:
        out.append(_annotated(mine))
    if flt.annotator is not None:
        user_id = session.scalar(select(User.id).where(User.name == flt.annotator))
        out.append(_annotated((Annotation.user_id == user_id) & mine) if user_id else ~true())
    if flt.source == "import":
        out.append(_annotated(Annotation.user_id.is_(None) & mine))
    elif flt.source == "human":
        out.append(_annotated(Annotation.user_id.is_not(None) & mine))
    if flt.label is not None:
        out.append(_has_label(flt.label, own))
    return out


def _status(status: ItemStatus) -> list[ColumnElement[bool]]:
    if status == "labeled":
        return [Item.labeled == true()]
    if status == "unlabeled":  # nor given a final label from the table
        return [Item.labeled != true(), ~exists().where(Adjudication.item_id == Item.id)]
    if status == "audit":
        return [Item.audit == true()]
    if status == "disagreement":
        # Two or more labels and no final one yet; the consensus rule decides on each row.
        votes = select(func.count()).where(Annotation.item_id == Item.id).scalar_subquery()
        adjudicated = exists().where(Adjudication.item_id == Item.id)
        return [Item.labeled == true(), votes >= 2, ~adjudicated]
    return []


def _annotated(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists().where(Annotation.item_id == Item.id, condition)


def _has_label(label: str, own_user_id: int | None) -> ColumnElement[bool]:
    """Some annotation (or the adjudication) names ``label``: a superset of the final label.

    Labels are stored as JSON lists written by ``json.dumps``, so the label's JSON string is a
    substring of the list's text on both databases.
    """
    needle = json.dumps(label)
    in_annotation = cast(Annotation.labels, String).contains(needle, autoescape=True)
    if own_user_id is not None:
        return _annotated(in_annotation & (Annotation.user_id == own_user_id))
    in_adjudication = cast(Adjudication.labels, String).contains(needle, autoescape=True)
    return _annotated(in_annotation) | exists().where(
        Adjudication.item_id == Item.id, in_adjudication
    )
