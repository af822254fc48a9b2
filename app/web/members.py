"""The Members section of a project's dashboard: managers add people, change roles, remove."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from app.deps import ActorDep, WriteSession
from app.fields import PathId
from app.models import Project, ProjectRole, User
from app.projects import members
from app.routing import GuardedRoute
from app.web.access import WebManagedProject, WebManagedReadProject
from app.web.security import WebUser, check_csrf
from app.web.templating import render

router = APIRouter(dependencies=[Depends(check_csrf)], route_class=GuardedRoute)
RoleField = Annotated[Literal["annotator", "reviewer", "manager"], Form()]


def _section(request: Request, session: Session, project: Project, user: User) -> HTMLResponse:
    context = {
        "current_user": user,
        "project": project,
        "can_manage": True,
        "members": members.list_members(session, project),
        "member_roles": list(ProjectRole),
    }
    return render(request, "projects/dashboard.html", context, block="members")


@router.get("/projects/{project_id}/members")
def members_section(project: WebManagedReadProject) -> RedirectResponse:
    """The members are managed in the dashboard's Members section: go there."""
    return RedirectResponse(f"/projects/{project.id}#members", status_code=303)


@router.post("/projects/{project_id}/members", response_class=HTMLResponse)
def add_member(
    request: Request,
    project: WebManagedProject,
    session: WriteSession,
    user: WebUser,
    actor: ActorDep,
    name: Annotated[str, Form(min_length=1, max_length=100)],
    role: RoleField = "annotator",
) -> HTMLResponse:
    """Add a user, by name, to the project with a role."""
    member = members.find_user(session, name=name.strip())
    members.add_member(session, project, member, ProjectRole(role), actor=actor)
    return _section(request, session, project, user)


@router.post("/projects/{project_id}/members/{user_id}/role", response_class=HTMLResponse)
def change_role(
    request: Request,
    project: WebManagedProject,
    user_id: PathId,
    session: WriteSession,
    user: WebUser,
    actor: ActorDep,
    role: RoleField,
) -> HTMLResponse:
    """Change a member's role."""
    member = members.find_user(session, user_id=user_id)
    members.set_role(session, project, member, ProjectRole(role), actor=actor)
    return _section(request, session, project, user)


@router.post("/projects/{project_id}/members/{user_id}/remove", response_class=HTMLResponse)
def remove_member(
    request: Request,
    project: WebManagedProject,
    user_id: PathId,
    session: WriteSession,
    user: WebUser,
    actor: ActorDep,
) -> HTMLResponse:
    """Remove a member from the project; their labels stay."""
    member = members.find_user(session, user_id=user_id)
    members.remove_member(session, project, member, actor=actor)
    return _section(request, session, project, user)
