"""Suggestions as people meet them: shown with an item, and accepted or changed by a label.

A client that shows a suggestion sends its id with the label (``suggestion_id``); the label is
a human label all the same, recorded as ``accepted`` (the suggested labels) or ``changed``, so
the oracle's influence on people can be measured.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.errors import Invalid
from app.models import Annotation, Oracle, Suggestion


@dataclass(frozen=True)
class Shown:
    """The suggestion an item is shown with."""

    id: int
    oracle: str
    labels: list[str]
    confidence: float | None


def for_items(session: Session, project_id: int, item_ids: Sequence[int]) -> dict[int, Shown]:
    """Each item's newest answer from the project's enabled oracles (the first oracle's when
    several answered)."""
    if not item_ids:
        return {}
    rows = session.execute(
        select(
            Suggestion.item_id,
            Suggestion.id,
            Oracle.name,
            Suggestion.labels,
            Suggestion.confidence,
        )
        .join(Oracle, Oracle.id == Suggestion.oracle_id)
        .where(
            Suggestion.project_id == project_id,
            Suggestion.item_id.in_(list(item_ids)),
            Suggestion.labels.is_not(None),
            Oracle.enabled.is_(True),
        )
        .order_by(Oracle.id.desc(), Suggestion.id)
    )
    out: dict[int, Shown] = {}
    for item_id, sid, name, labels, confidence in rows:
        out[item_id] = Shown(sid, name, list(labels or []), confidence)  # the last row wins
    return out


def check(session: Session, project_id: int, item_id: int, suggestion_id: int) -> list[str]:
    """The labels of suggestion ``suggestion_id`` of the item; Invalid when it is not one."""
    row = session.execute(
        select(Suggestion.labels).where(
            Suggestion.id == suggestion_id,
            Suggestion.item_id == item_id,
            Suggestion.project_id == project_id,
        )
    ).first()
    if row is None or row[0] is None:
        raise Invalid(f"suggestion_id: {suggestion_id} is not a suggestion for item {item_id}")
    return list(row[0])


def mark(session: Session, annotation_id: int, suggestion_id: int, suggested: list[str]) -> None:
    """Record that the annotation was given with the suggestion in view."""
    labels = session.scalar(select(Annotation.labels).where(Annotation.id == annotation_id))
    verdict = "accepted" if sorted(labels or []) == sorted(suggested) else "changed"
    session.execute(
        update(Annotation)
        .where(Annotation.id == annotation_id)
        .values(suggestion_id=suggestion_id, suggestion=verdict)
    )
