"""JSON routes for projects."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from app.deps import (
    ActorDep,
    AdminUser,
    CurrentUser,
    ReadSession,
    SettingsDep,
    WriteSession,
)
from app.errors import responses
from app.fields import PathId
from app.models import Project, ProjectRole
from app.projects import labels, members, removal, service
from app.projects.access import ManagedProject, ManagedReadProject, ReadProject
from app.projects.schemas import (
    MemberIn,
    MemberOut,
    MemberPatch,
    ProjectCreate,
    ProjectOut,
    ProjectUpdate,
)
from app.projects.shape import Shape
from app.routing import GuardedRoute

router = APIRouter(prefix="/projects", tags=["projects"], route_class=GuardedRoute)


def _out(session: Session, project: Project) -> ProjectOut:
    c = service.counts(session, project)
    return ProjectOut(
        id=project.id,
        name=project.name,
        labels=project.labels,
        multi_label=project.multi_label,
        strategy=project.strategy,
        batch_size=project.batch_size,
        **service.options(project).stored(),
        guidelines=project.guidelines,
        label_descriptions=project.label_descriptions or {},
        **Shape.of(project).model_dump(),
        created_at=project.created_at,
        n_items=c.n_items,
        n_labeled=c.n_labeled,
        n_unlabeled=c.n_unlabeled,
        model_version=c.model_version,
    )


@router.post("", status_code=status.HTTP_201_CREATED, responses=responses(403, 409))
def create_project(
    data: ProjectCreate, session: WriteSession, _: AdminUser, actor: ActorDep
) -> ProjectOut:
    """Create a project with its label set, query strategy and retrain batch size."""
    return _out(session, service.create_project(session, data, actor=actor))


@router.get("")
def list_projects(session: ReadSession, user: CurrentUser) -> list[ProjectOut]:
    """List the caller's projects (an instance admin: every project) with their counts."""
    return [_out(session, p) for p in members.visible_projects(session, user)]


@router.get("/{project_id}", responses=responses(404))
def get_project(project: ReadProject, session: ReadSession) -> ProjectOut:
    """One project with counts of items, labelled and unlabelled."""
    return _out(session, project)


@router.patch("/{project_id}", responses=responses(403, 404, 409))
def update_project(
    project: ManagedProject, data: ProjectUpdate, session: WriteSession, actor: ActorDep
) -> ProjectOut:
    """Rename the project, or change the query strategy, the retrain batch size or an option
    (audited; 409 if the name is taken)."""
    project = service.update_project(session, project, data, actor=actor)
    return _out(session, project)


def _member_out(member: members.Member) -> MemberOut:
    return MemberOut(
        user_id=member.user_id, user=member.name, role=member.role, created_at=member.created_at
    )


@router.get("/{project_id}/members", responses=responses(403, 404))
def list_members(project: ManagedReadProject, session: ReadSession) -> list[MemberOut]:
    """The project's members and their roles (managers and instance admins)."""
    return [_member_out(m) for m in members.list_members(session, project)]


@router.post(
    "/{project_id}/members",
    status_code=status.HTTP_201_CREATED,
    responses=responses(403, 404, 409),
)
def add_member(
    project: ManagedProject, body: MemberIn, session: WriteSession, actor: ActorDep
) -> MemberOut:
    """Add a user, by id or name, to the project with a role (audited)."""
    user = members.find_user(session, user_id=body.user_id, name=body.user)
    role = ProjectRole(body.role)
    return _member_out(members.add_member(session, project, user, role, actor=actor))


@router.patch("/{project_id}/members/{user_id}", responses=responses(403, 404))
def change_member(
    project: ManagedProject,
    user_id: PathId,
    body: MemberPatch,
    session: WriteSession,
    actor: ActorDep,
) -> MemberOut:
    """Change a member's role in the project (audited)."""
    user = members.find_user(session, user_id=user_id)
    role = ProjectRole(body.role)
    return _member_out(members.set_role(session, project, user, role, actor=actor))


@router.delete(
    "/{project_id}/members/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(403, 404),
)
def remove_member(
    project: ManagedProject, user_id: PathId, session: WriteSession, actor: ActorDep
) -> None:
    """Remove a member from the project (audited); their labels stay."""
    user = members.find_user(session, user_id=user_id)
    members.remove_member(session, project, user, actor=actor)


@router.delete(
    "/{project_id}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(403, 404)
)
def delete_project(
    project: ManagedProject, session: WriteSession, settings: SettingsDep, actor: ActorDep
) -> None:
    """Delete the project with its items, labels, models and files (audited; no undo)."""
    leftovers = removal.delete_project(session, project, settings, actor=actor)
    session.commit()  # the rows first: see app.projects.removal
    removal.remove_files(leftovers)


# A label may hold any character, "/" included: the rest of the path is the label.
LABEL = "/{project_id}/labels/{label:path}"


class LabelName(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    name: str = Field(min_length=1, max_length=labels.MAX_LABEL_LENGTH)


class LabelsOut(BaseModel):
    labels: list[str]


@router.post(
    "/{project_id}/labels",
    status_code=status.HTTP_201_CREATED,
    responses=responses(403, 404, 409),
)
def add_label(
    project: ManagedProject, body: LabelName, session: WriteSession, actor: ActorDep
) -> LabelsOut:
    """Add a label to the project's set."""
    return LabelsOut(labels=labels.add_label(session, project, body.name, actor=actor).labels)


@router.patch(LABEL, responses=responses(403, 404, 409))
def rename_label(
    project: ManagedProject, label: str, body: LabelName, session: WriteSession, actor: ActorDep
) -> LabelsOut:
    """Rename a label; every annotation and adjudication that carries it follows, and the
    model is retrained to answer with the new name."""
    renamed = labels.rename_label(session, project, label, body.name, actor=actor)
    return LabelsOut(labels=renamed.labels)


@router.delete(LABEL, responses=responses(403, 404, 409))
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
