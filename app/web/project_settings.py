"""A project's settings page for its managers: rename it, edit its label set, its guidelines
and label descriptions, the oracle options and oracles (``app.web.oracles``), delete it.

Every action is a plain form that redirects back with a notice; a refusal shows the page
again with the reason beside the form that caused it, and nothing changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, get_args

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from app.annotations.service import label_counts
from app.audit.service import Actor
from app.deps import ActorDep, ReadSession, SettingsDep, WriteSession
from app.errors import AppError, Invalid
from app.models import Project, User
from app.oracles import service as oracles
from app.oracles.config import CONFIGS, OpenAIOracleConfig, ResponseFormat
from app.oracles.schemas import OracleIn
from app.projects import labels, removal
from app.projects import service as projects
from app.projects.schemas import MAX_GUIDELINES, ProjectUpdate, check_descriptions
from app.routing import GuardedRoute
from app.web.access import WebManagedProject, WebManagedReadProject
from app.web.projects import validation_message
from app.web.security import WebUser, check_csrf
from app.web.templating import flash, render, sentence, take_flash

router = APIRouter(dependencies=[Depends(check_csrf)], route_class=GuardedRoute)

LabelField = Annotated[str, Form(min_length=1, max_length=labels.MAX_LABEL_LENGTH)]


def page(
    request: Request,
    session: Session,
    project: Project,
    user: User,
    *,
    problem: tuple[str, str] | None = None,
    typed: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The page; ``problem`` is (section, message) for a refused action, ``typed`` what its
    form held (shown again instead of the stored values)."""
    context: dict[str, Any] = {
        "current_user": user,
        "project": project,
        "counts": projects.counts(session, project),
        "label_counts": label_counts(session, project),
        "options": projects.options(project),
        "oracles": [oracles.out(o) for o in oracles.list_oracles(session, project)],
        "oracle_kinds": list(CONFIGS),
        "response_formats": get_args(ResponseFormat),
        "oracle_defaults": {**OpenAIOracleConfig.model_fields, **OracleIn.model_fields},
        "max_guidelines": MAX_GUIDELINES,
        "notice": take_flash(request),
        "problem": problem,
        "typed": typed or {},
    }
    return render(request, "projects/settings.html", context, status_code=status_code)


def act(
    request: Request,
    session: Session,
    project: Project,
    user: User,
    section: str,
    action: Callable[[], str],
    *,
    typed: dict[str, Any] | None = None,
) -> HTMLResponse | RedirectResponse:
    """Run ``action`` (it returns the notice) and go back to the page; a refusal shows the page
    again with the reason beside ``section`` and ``typed`` in its form. Every service here
    checks before it changes anything (a taken name is tried in a savepoint), so what the page
    shows is what is stored."""
    try:
        notice = action()
    except AppError as exc:
        problem = (section, sentence(exc.message))
        return page(
            request,
            session,
            project,
            user,
            problem=problem,
            typed=typed,
            status_code=exc.status_code,
        )
    flash(request, notice)
    return RedirectResponse(f"/projects/{project.id}/settings", status_code=303)


def _update(session: Session, project: Project, actor: Actor, fields: dict[str, Any]) -> None:
    """Change the project's ``fields`` as the API's PATCH would; Invalid names the field."""
    try:
        data = ProjectUpdate.model_validate(fields)
    except ValidationError as exc:
        raise Invalid(validation_message(exc)) from None
    projects.update_project(session, project, data, actor=actor)


@router.get("/projects/{project_id}/settings", response_class=HTMLResponse)
def settings_page(
    request: Request, project: WebManagedReadProject, session: ReadSession, user: WebUser
) -> HTMLResponse:
    """The project's name, its labels with their use, and the danger zone."""
    return page(request, session, project, user)


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

    return act(request, session, project, user, "name", rename)


@router.post("/projects/{project_id}/guidelines", response_model=None)
def save_guidelines(
    request: Request,
    project: WebManagedProject,
    session: WriteSession,
    user: WebUser,
    actor: ActorDep,
    guidelines: Annotated[str, Form(max_length=2 * MAX_GUIDELINES)] = "",
    label: Annotated[list[str], Form()] = (),  # type: ignore[assignment]
    description: Annotated[list[str], Form()] = (),  # type: ignore[assignment]
) -> HTMLResponse | RedirectResponse:
    """Save the guidelines (shown to annotators and in oracle prompts) and the one-line
    description of each label."""
    text = guidelines.replace("\r\n", "\n").strip()
    descriptions = dict(zip(label, description, strict=False))
    typed = {"guidelines": text, "descriptions": descriptions}

    def save() -> str:
        try:  # before anything changes: update_project sets the guidelines first
            check_descriptions(descriptions, list(project.labels))
        except ValueError as exc:
            raise Invalid(str(exc)) from None
        _update(session, project, actor, {"guidelines": text, "label_descriptions": descriptions})
        return "Guidelines and label descriptions saved."

    return act(request, session, project, user, "guidelines", save, typed=typed)


class OracleOptionsForm(BaseModel):
    """The oracle options as submitted (an unticked box is False); `ProjectUpdate` judges them."""

    oracle_vote: bool = False
    suggest_preselect: bool = False
    oracle_examples: int | None = None
    machine_labels: bool = False
    machine_threshold: float | None = None
    machine_target: float | None = None
    machine_train: bool = False


@router.post("/projects/{project_id}/oracle-options", response_model=None)
def save_oracle_options(
    request: Request,
    project: WebManagedProject,
    session: WriteSession,
    user: WebUser,
    actor: ActorDep,
    form: Annotated[OracleOptionsForm, Form()],
) -> HTMLResponse | RedirectResponse:
    """Save how oracles take part: the vote, the pre-selected suggestion, the prompt's
    examples and the machine-label route."""

    def save() -> str:
        _update(session, project, actor, form.model_dump(exclude_none=True))
        return "Oracle options saved."

    return act(
        request,
        session,
        project,
        user,
        "oracle-options",
        save,
        typed=form.model_dump(exclude_none=True),
    )


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

    return act(request, session, project, user, "labels", add)


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

    return act(request, session, project, user, "labels", rename)


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

    return act(request, session, project, user, "labels", remove)


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
        return page(request, session, project, user, problem=problem, status_code=exc.status_code)
    session.commit()  # the rows first: see app.projects.removal
    removal.remove_files(leftovers)
    flash(request, f"Project {name!r} was deleted with its items, labels and models.")
    return RedirectResponse("/", status_code=303)
