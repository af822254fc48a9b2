"""JSON route for the annotation queue."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from app.config import QUEUE_LIMIT_CEILING, Settings
from app.deps import LeaseWriting
from app.errors import Invalid, responses
from app.items import documents
from app.items.documents import PlaceOut
from app.models import User
from app.oracles import suggestions
from app.oracles.schemas import SuggestionOut
from app.projects.access import QueueCaller
from app.projects.service import ProjectRef
from app.queue import service
from app.routing import GuardedRoute, json_response

router = APIRouter(
    prefix="/projects/{project_id}",
    tags=["queue"],
    responses=responses(404),
    route_class=GuardedRoute,
)


class QueueItemOut(BaseModel):
    id: int
    external_id: str | None
    text: str = Field(description="The primary field's text.")
    fields: dict[str, str] | None = Field(
        default=None, description="Every named field of the item (None: the one field text)."
    )
    document: PlaceOut | None = Field(default=None, description="A sentence's document.")
    score: float | None
    prediction: dict[str, Any] | None = Field(
        description="The published model's guess (None before a model, and on an audit item)."
    )
    suggestion: SuggestionOut | None = Field(
        default=None,
        description="An oracle's answer for the item, if any: send its id as the label's "
        "`suggestion_id` when it was shown. None on an audit item.",
    )
    audit: bool = Field(
        default=False,
        description="In the audit sample, drawn at random to measure the model: label it blind "
        "(its prediction and suggestion are None), it is never trained on.",
    )


class QueueOut(BaseModel):
    model_version: int | None
    items: list[QueueItemOut]


@router.get(
    "/queue",
    response_model=QueueOut,
    responses=responses(429),
)
async def get_queue(
    caller: QueueCaller,
    writing: LeaseWriting,  # the queue writes only leases
    request: Request,
    limit: Annotated[int, Query(ge=1, le=QUEUE_LIMIT_CEILING)] = 10,
) -> Response:
    """The next items to label, most informative first; each is leased to the caller."""
    # The settings from the app's state, not ``SettingsDep``: every dependency FastAPI
    # solves costs the event loop, on the busiest route (bench/README.md, `load.py`).
    settings: Settings = request.app.state.settings
    if limit > settings.queue_max_limit:
        raise Invalid(
            f"limit: at most {settings.queue_max_limit} items per request "
            "(LABELLOOP_QUEUE_MAX_LIMIT)"
        )
    lease = partial(_lease, caller.project, caller.user, limit, settings.lease_seconds)
    return json_response(await writing.run(lease))  # on the loop, or one thread hop


def _lease(
    project: ProjectRef, user: User, limit: int, lease_seconds: int, session: Session
) -> QueueOut:
    batch = service.next_items(session, project, user, limit=limit, lease_seconds=lease_seconds)
    # An audit item is labelled blind: a guess in view would pull its label towards the
    # model's and flatter the accuracy measured on the audit sample.
    sighted = [q.item.id for q in batch.items if not q.audit]
    shown = suggestions.for_items(session, project.id, sighted)
    placed = documents.places(session, [q.item for q in batch.items])
    return QueueOut(
        model_version=batch.model_version,
        items=[
            QueueItemOut(
                id=q.item.id,
                external_id=q.item.external_id,
                text=q.item.text,
                fields=q.item.fields,
                document=placed.get(q.item.id),
                score=q.score,
                prediction=q.prediction,
                suggestion=_suggestion(shown.get(q.item.id)),
                audit=q.audit,
            )
            for q in batch.items
        ],
    )


def _suggestion(shown: suggestions.Shown | None) -> SuggestionOut | None:
    if shown is None:
        return None
    return SuggestionOut(
        id=shown.id, oracle=shown.oracle, labels=shown.labels, confidence=shown.confidence
    )
