"""JSON routes of the review queue: what waits for a reviewer, and the reviewer's decision."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.deps import ActorDep, CurrentUser, ReadSession, WriteSession
from app.errors import responses
from app.fields import PathId
from app.projects.access import ReviewProject, ReviewReadProject
from app.review import service
from app.review.schemas import AdjudicationIn, ReviewItemOut, ReviewQueueOut, entry_out
from app.routing import GuardedRoute

router = APIRouter(prefix="/projects/{project_id}", tags=["review"], route_class=GuardedRoute)


@router.get("/review", responses=responses(403, 404))
def review_queue(
    project: ReviewReadProject,
    session: ReadSession,
    limit: Annotated[int, Query(ge=1, le=service.MAX_LIMIT)] = 20,
    after: Annotated[int, Query(ge=0)] = 0,
) -> ReviewQueueOut:
    """Items waiting for review (disagreement, flagged, suspicious), with every label."""
    entries = service.review_queue(session, project, limit=limit, after=after)
    items = [entry_out(e) for e in entries]
    return ReviewQueueOut(
        items=items, next_after=items[-1].item_id if len(items) == limit else None
    )


@router.put("/review/{item_id}", responses=responses(403, 404))
def adjudicate(
    project_id: PathId,  # declared first, so the OpenAPI lists it before item_id
    item_id: PathId,
    project: ReviewProject,
    body: AdjudicationIn,
    user: CurrentUser,
    session: WriteSession,
    actor: ActorDep,
) -> ReviewItemOut:
    """Set an item's final label; the annotators' own labels are kept beside it."""
    entry = service.adjudicate(
        session,
        project,
        user,
        item_id=item_id,
        labels=body.label_list(),
        note=body.note,
        actor=actor,
    )
    return entry_out(entry)
