"""A project's settings page for its managers: rename it, edit its label set, delete it.

Every action is a plain form that redirects back with a notice; a refusal shows the page
again with the reason beside the form that caused it, and nothing changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.annotations.service import label_counts
from app.deps import ActorDep, ReadSession, SettingsDep, WriteSession
from app.errors import AppError, Invalid
from app.models import Project, User
from app.projects import labels, removal
from app.projects import service as projects
from app.projects.schemas import ProjectUpdate
from app.routing import GuardedRoute
from app.web.access import WebManagedProject, WebManagedReadProject
from app.web.security import WebUser, check_csrf
from app.web.templating import flash, render, sentence, take_flash

router = APIRouter(dependencies=[Depends(check_csrf)], route_class=GuardedRoute)

LabelField = Annotated[str, Form(min_length=1, max_length=labels.MAX_LABEL_LENGTH)]


def _page(
    request: Request,
    session: Session,
    project: Project,
    user: User,
    *,
    problem: tuple[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The page; ``problem`` is (section, message) for a refused action."""
    context: dict[str, Any] = {
        "current_user": user,
        "project": project,
        "counts": projects.counts(session, project),
        "label_counts": label_counts(session, project),
        "notice": take_flash(request),
        "problem": problem,
    }
    return render(request, "projects/settings.html", context, status_code=status_code)


def _act(
    request: Request,
    session: Session,
    project: Project,
    user: User,
    section: str,
    action: Callable[[], str],
) -> HTMLResponse | RedirectResponse:
    """Run ``action`` (it returns the notice) and go back to the page; a refusal shows the page
    again with the reason beside ``section``. Every service here checks before it changes
    anything (a taken name is tried in a savepoint), so what the page shows is what is stored."""
    try:
        notice = action()
    except AppError as exc:
        problem = (section, sentence(exc.message))
        return _page(request, session, project, user, problem=problem, status_code=exc.status_code)
    flash(request, notice)
    return RedirectResponse(f"/projects/{project.id}/settings", status_code=303)


@router.get("/projects/{project_id}/settings", response_class=HTMLResponse)
def settings_page(
    request: Request, project: WebManagedReadProject, session: ReadSession, user: WebUser
) -> HTMLResponse:
    """The project's name, its labels with their use, and the danger zone."""
    return _page(request, session, project, user)


@router.post("/projects/{project_id}/rename", response_model=None)
def rename_project(
    request: Request,
    project: WebManagedProject,
    session: WriteSession,
    user: WebUser,
    actor: ActorDep,
    name: Annotated[str, Form(max_length=300)],
) -> HTMLResponse | RedirectResponse:
    """Rename the project (refused, naming it, if another project has the name)."""

    def rename() -> str:
        try:
            data = ProjectUpdate(name=name)
        except ValidationError as exc:
            message = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
            raise Invalid(f"Name: {message}") from None
        projects.update_project(session, project, data, actor=actor)
        return f"The project is now called {project.name!r}."

    return _act(request, session, project, user, "name", rename)


@router.post("/projects/{project_id}/labels", response_model=None)
def add_label(
    request: Request,
    project: WebManagedProject,
    session: WriteSession,
    user: WebUser,
    actor: ActorDep,
    name: LabelField,
) -> HTMLResponse | RedirectResponse:
    """Add a label to the project's set."""

    def add() -> str:
        added = labels.add_label(session, project, name, actor=actor).labels[-1]
        return f"Label {added!r} added."

    return _act(request, session, project, user, "labels", add)


@router.post("/projects/{project_id}/labels/rename", response_model=None)
def rename_label(
    request: Request,
    project: WebManagedProject,
    session: WriteSession,
    user: WebUser,
    actor: ActorDep,
    label: LabelField,
    name: LabelField,
) -> HTMLResponse | RedirectResponse:
    """Rename a label; every annotation that carries it follows."""

    def rename() -> str:
        before = list(project.labels)
        labels.rename_label(session, project, label, name, actor=actor)
        renamed = project.labels[before.index(label)]  # as stored: cleaned, in its place
        return f"Label {label!r} is now {renamed!r}; its annotations follow."

    return _act(request, session, project, user, "labels", rename)


@router.post("/projects/{project_id}/labels/delete", response_model=None)
def delete_label(
    request: Request,
    project: WebManagedProject,
    session: WriteSession,
    user: WebUser,
    actor: ActorDep,
    label: LabelField,
    merge_into: Annotated[str, Form(max_length=labels.MAX_LABEL_LENGTH)] = "",
) -> HTMLResponse | RedirectResponse:
    """Delete an unused label, or merge a used one into another label."""
    target = merge_into or None

    def remove() -> str:
        labels.remove_label(session, project, label, merge_into=target, actor=actor)
        return f"Label {label!r} {f'merged into {target!r}' if target else 'deleted'}."

    return _act(request, session, project, user, "labels", remove)


@router.post("/projects/{project_id}/delete", response_model=None)
def delete_project(
    request: Request,
    project: WebManagedProject,
    session: WriteSession,
    settings: SettingsDep,
    user: WebUser,
    actor: ActorDep,
    confirm: Annotated[str, Form(max_length=300)] = "",
) -> HTMLResponse | RedirectResponse:
    """Delete the project with everything in it, once its name is typed exactly."""
    name = project.name
    try:
        leftovers = removal.delete_project(
            session, project, settings, actor=actor, typed_name=confirm
        )
    except AppError as exc:
        problem = ("delete", sentence(exc.message))
        return _page(request, session, project, user, problem=problem, status_code=exc.status_code)
    session.commit()  # the rows first: see app.projects.removal
    removal.remove_files(leftovers)
    flash(request, f"Project {name!r} was deleted with its items, labels and models.")
    return RedirectResponse("/", status_code=303)
