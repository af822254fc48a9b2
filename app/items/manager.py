"""The data manager's actions on a selection of rows, shared by the API and the items screen.

Relabelling from the table sets the item's **final** label: an adjudication through the review
service (kept beside the annotators' labels, audited, counted towards the next retrain), as a
reviewer does in Label Studio's data manager or Prodigy's review recipe. Sending to review
puts the items in the review queue for a reviewer's decision. Deleting is
``removal.delete_items``.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from app.audit.service import Actor
from app.items import removal
from app.models import Project, User
from app.review import service as review

MAX_SELECTION = removal.MAX_DELETE


def relabel(
    session: Session,
    project: Project,
    reviewer: User,
    *,
    item_ids: Sequence[int],
    labels: list[str],
    actor: Actor,
) -> int:
    """Set the final label(s) of every selected item, all or none; returns how many."""
    ids = removal.selection(session, project, item_ids)
    for item_id in ids:
        review.adjudicate(
            session, project, reviewer, item_id=item_id, labels=labels, note=None, actor=actor
        )
    return len(ids)


def send_to_review(
    session: Session, project: Project, user: User, *, item_ids: Sequence[int], actor: Actor
) -> int:
    """Put every selected item in the review queue (all or none, audited); returns how many
    were not waiting there on request already."""
    ids = removal.selection(session, project, item_ids)
    return review.request_review(session, project, user, ids, actor=actor)
