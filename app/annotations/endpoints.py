"""JSON route for submitting annotations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.annotations import idempotency, service
from app.deps import CurrentUser, WriteSession
from app.errors import responses
from app.fields import Id, PathId, Text
from app.models import User

router = APIRouter(prefix="/projects/{project_id}", tags=["annotations"])
REPLAYED = {"Idempotent-Replayed": "true"}
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias=idempotency.HEADER,
        min_length=1,
        max_length=255,
        pattern=r"^[!-~]+$",
        description="Makes a retry safe: the same key with the same body replays the first "
        "response (for 24 hours); the same key with another body is refused with 422.",
    ),
]


class AnnotationIn(BaseModel):
    """``label`` for single-label projects, ``labels`` (a list) for multi-label ones."""

    model_config = ConfigDict(strict=True, extra="forbid")

    item_id: Id
    label: Text | None = Field(default=None, max_length=200)
    labels: list[Text] | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _one_of(self) -> AnnotationIn:
        if (self.label is None) == (self.labels is None):
            raise ValueError("send exactly one of 'label' or 'labels'")
        return self

    def label_list(self) -> list[str]:
        return [self.label] if self.label is not None else list(self.labels or [])


class AnnotationOut(BaseModel):
    id: int
    item_id: int
    label: str | None
    labels: list[str]
    annotator: str
    created_at: datetime
    updated_at: datetime


@router.post(
    "/annotations",
    status_code=status.HTTP_201_CREATED,
    response_model=AnnotationOut,
    response_description="A new label",
    responses={200: {"model": AnnotationOut, "description": "Replaced an earlier label"}}
    | responses(404, 409),
)
def submit_annotation(
    project_id: PathId,
    body: AnnotationIn,
    user: CurrentUser,  # before the session: authenticate outside the write slot
    session: WriteSession,
    response: Response,
    idempotency_key: IdempotencyKeyHeader = None,
) -> AnnotationOut | Response:
    """Label an item: 201 when new, 200 when it replaces this annotator's earlier label."""
    if idempotency_key is not None:
        request_hash = idempotency.fingerprint(
            "POST", f"/projects/{project_id}/annotations", body.model_dump()
        )
        stored = idempotency.claim(session, user.id, idempotency_key, request_hash)
        if stored is not None:
            return JSONResponse(stored.body, stored.status_code, headers=REPLAYED)
    project = service.label_rules(session, project_id)
    annotation, created = service.submit(
        session, project, user, item_id=body.item_id, labels=body.label_list()
    )
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    out = _out(project, annotation, user)
    if idempotency_key is not None:
        body_json = out.model_dump(mode="json")
        idempotency.record(session, user.id, idempotency_key, response.status_code, body_json)
    session.commit()  # now, not after FastAPI validates the response: see app.deps
    return out


def _out(project: service.LabelRules, annotation: service.Stored, user: User) -> AnnotationOut:
    return AnnotationOut(
        id=annotation.id,
        item_id=annotation.item_id,
        label=None if project.multi_label else annotation.labels[0],
        labels=annotation.labels,
        annotator=user.name,
        created_at=annotation.created_at,
        updated_at=annotation.updated_at,
    )
