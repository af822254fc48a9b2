"""Suggestions as people meet them: shown with an item, and accepted or changed by a label.

A client that shows a suggestion sends its id with the label (``suggestion_id``); the label is
a human label all the same, recorded as ``accepted`` (the suggested labels) or ``changed``, so
the oracle's influence on people can be measured.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from app.db import connection
from app.errors import Invalid
from app.models import Annotation, Oracle, Suggestion


@dataclass(frozen=True)
class Shown:
    """The suggestion an item is shown with."""

    id: int
    oracle: str
    labels: list[str]
    confidence: float | None


_suggestions, _oracles = Suggestion.__table__, Oracle.__table__
# Every queue answer runs this: built once, read as plain rows (see app.queue.service).
_SHOWN = (
    select(
        _suggestions.c.item_id,
        _suggestions.c.id,
        _oracles.c.name,
        _suggestions.c.labels,
        _suggestions.c.confidence,
    )
    .join(_oracles, _oracles.c.id == _suggestions.c.oracle_id)
    .where(
        _suggestions.c.project_id == bindparam("project_id"),
        _suggestions.c.item_id.in_(bindparam("item_ids", expanding=True)),
        _suggestions.c.labels.is_not(None),
        _oracles.c.enabled.is_(True),
    )
    .order_by(_oracles.c.id.desc(), _suggestions.c.id)
)


def for_items(session: Session, project_id: int, item_ids: Sequence[int]) -> dict[int, Shown]:
    """Each item's newest answer from the project's enabled oracles (the first oracle's when
    several answered)."""
    if not item_ids:
        return {}
    params = {"project_id": project_id, "item_ids": list(item_ids)}
    rows = connection(session).execute(_SHOWN, params)
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
