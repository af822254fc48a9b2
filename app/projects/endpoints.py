"""JSON routes for projects."""

from __future__ import annotations

from fastapi import APIRouter, status
from sqlalchemy.orm import Session

from app.deps import ActorDep, AdminUser, CurrentUser, ReadSession, WriteSession
from app.errors import responses
from app.models import Project
from app.projects import service
from app.projects.access import ReadProject, WriteProject
from app.projects.schemas import ProjectCreate, ProjectOut, ProjectUpdate
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
def list_projects(session: ReadSession, _: CurrentUser) -> list[ProjectOut]:
    """List every project with its counts."""
    return [_out(session, p) for p in service.list_projects(session)]


@router.get("/{project_id}", responses=responses(404))
def get_project(project: ReadProject, session: ReadSession) -> ProjectOut:
    """One project with counts of items, labelled and unlabelled."""
    return _out(session, project)


@router.patch("/{project_id}", responses=responses(403, 404))
def update_project(
    project: WriteProject, data: ProjectUpdate, session: WriteSession, _: AdminUser, actor: ActorDep
) -> ProjectOut:
    """Change the query strategy, the retrain batch size or an option (audited)."""
    project = service.update_project(session, project, data, actor=actor)
    return _out(session, project)
