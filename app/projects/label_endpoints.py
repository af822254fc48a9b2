"""JSON routes for a project's label set: add, rename, delete or merge a label (managers)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from app.deps import ActorDep, WriteSession
from app.errors import responses
from app.projects import labels
from app.projects.access import ManagedProject
from app.routing import GuardedRoute

router = APIRouter(
    prefix="/projects/{project_id}/labels",
    tags=["projects"],
    responses=responses(403, 404),
    route_class=GuardedRoute,
)
# A label may hold any character, "/" included: the rest of the path is the label.
LABEL = "/{label:path}"


class LabelName(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    name: str = Field(min_length=1, max_length=labels.MAX_LABEL_LENGTH)


class LabelsOut(BaseModel):
    labels: list[str]


@router.post("", status_code=status.HTTP_201_CREATED, responses=responses(409))
def add_label(
    project: ManagedProject, body: LabelName, session: WriteSession, actor: ActorDep
) -> LabelsOut:
    """Add a label to the project's set."""
    return LabelsOut(labels=labels.add_label(session, project, body.name, actor=actor).labels)


@router.patch(LABEL, responses=responses(409))
def rename_label(
    project: ManagedProject, label: str, body: LabelName, session: WriteSession, actor: ActorDep
) -> LabelsOut:
    """Rename a label; every annotation and adjudication that carries it follows, and the
    model is retrained to answer with the new name."""
    renamed = labels.rename_label(session, project, label, body.name, actor=actor)
    return LabelsOut(labels=renamed.labels)


@router.delete(LABEL, responses=responses(409))
def delete_label(
    project: ManagedProject,
    label: str,
    session: WriteSession,
    actor: ActorDep,
    merge_into: Annotated[
        str | None, Query(description="The label its annotations get instead.")
    ] = None,
) -> LabelsOut:
    """Delete a label no annotation carries, or merge it into another label."""
    left = labels.remove_label(session, project, label, merge_into=merge_into, actor=actor)
    return LabelsOut(labels=left.labels)
