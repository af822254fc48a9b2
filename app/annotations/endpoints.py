"""JSON route for submitting annotations."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.annotations import service
from app.deps import CurrentUser, WriteSession
from app.projects.service import get_project

router = APIRouter(prefix="/projects/{project_id}", tags=["annotations"])


class AnnotationIn(BaseModel):
    """``label`` for single-label projects, ``labels`` (a list) for multi-label ones."""

    model_config = ConfigDict(strict=True, extra="forbid")

    item_id: int
    label: str | None = Field(default=None, max_length=200)
    labels: list[str] | None = Field(default=None, max_length=1000)

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


@router.post("/annotations", status_code=status.HTTP_201_CREATED)
def submit_annotation(
    project_id: int,
    body: AnnotationIn,
    session: WriteSession,
    user: CurrentUser,
    response: Response,
) -> AnnotationOut:
    """Label an item: 201 when new, 200 when it replaces this annotator's earlier label."""
    project = get_project(session, project_id)
    annotation, created = service.submit(
        session, project, user, item_id=body.item_id, labels=body.label_list()
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return AnnotationOut(
        id=annotation.id,
        item_id=annotation.item_id,
        label=None if project.multi_label else annotation.labels[0],
        labels=annotation.labels,
        annotator=user.name,
        created_at=annotation.created_at,
        updated_at=annotation.updated_at,
    )
