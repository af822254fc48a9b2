"""Admin console screens: project list, creation, dashboard, settings, runs, export."""

from __future__ import annotations

from typing import Annotated, Any, get_args

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.orm import Session

from app.annotations.agreement import project_agreement
from app.annotations.outcomes import final_label_counts
from app.deps import ActorDep, DatabaseDep, ReadSession, WriteSession
from app.errors import Conflict, Invalid
from app.items import export
from app.learning.options import DEFAULT_OPTIONS, DIVERSITY_METHODS, FEATURE_KINDS
from app.learning.strategies import needs_committee, strategy_names
from app.models import Project, ProjectRole, User
from app.projects import members
from app.projects import service as projects
from app.projects.access import ProjectRoleDep
from app.projects.schemas import ProjectCreate, ProjectUpdate
from app.projects.shape import (
    CLASSIFICATION,
    DEFAULT_LABELS,
    SENTENCE_SELECTION,
    TRANSLATION_REVIEW,
    Layout,
)
from app.ratelimits import web_rate_limited
from app.routing import GuardedRoute
from app.training import audit as audit_sample
from app.training import service as training
from app.training import summary
from app.web.access import WebManagedProject, WebReadProject, WebWriteProject
from app.web.charts import learning_curve
from app.web.problems import problem_sentence
from app.web.security import WebAdmin, WebUser, check_csrf
from app.web.templating import render, take_flash

router = APIRouter(dependencies=[Depends(check_csrf)], route_class=GuardedRoute)


# What the forms call the fields, for messages that name one.
FIELD_TITLES = {
    "name": "Name",
    "labels": "Labels",
    "task": "Task",
    "fields": "Fields",
    "layout": "Layout",
    "primary_field": "Primary field",
    "batch_size": "Retrain after every … new labels",
    "epsilon": "Exploration",
    "committee_size": "Committee size",
    "warm_up": "Warm-up",
    "overlap": "Annotators per item",
    "min_agreement": "Agreement for consensus",
    "audit_share": "Audit share",
    "recheck_share": "Second opinions",
    "guidelines": "Guidelines",
    "oracle_examples": "Examples in each prompt",
    "machine_threshold": "Model confidence for machine labels",
    "machine_target": "Target accuracy of machine labels",
}


def validation_message(exc: ValidationError, titles: dict[str, str] = FIELD_TITLES) -> str:
    """The first problem as a sentence for people, naming the field by the form's title."""
    return problem_sentence(exc.errors(), titles)


# The new-project form's task choices, each with its line of explanation.
TASKS = {
    CLASSIFICATION: "Give each item a label: one text, or several fields such as question and "
    "answer.",
    TRANSLATION_REVIEW: "Judge a translation beside its source (fields source and translation) "
    "and correct it.",
    SENTENCE_SELECTION: "Each imported document is split into sentences; mark each sentence to "
    "keep or leave out (an extractive summary).",
}


@router.get("/", response_class=HTMLResponse)
def project_list(request: Request, session: ReadSession, user: WebUser) -> HTMLResponse:
    """The user's projects (an instance admin: every project) with counts and model version."""
    mine = members.visible_projects(session, user)
    rows = [(p, projects.counts(session, p)) for p in mine]
    context = {"current_user": user, "rows": rows, "notice": take_flash(request)}
    return render(request, "projects/list.html", context)


def _new_project_form(
    request: Request,
    user: User,
    form: dict[str, Any],
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The create-project form holding ``form``'s values (what was typed, after an error)."""
    context = {
        "current_user": user,
        "strategies": strategy_names(),
        "feature_kinds": FEATURE_KINDS,
        "tasks": TASKS,
        "task_labels": DEFAULT_LABELS,
        "layouts": get_args(Layout),
        "error": error,
        "form": form,
    }
    return render(request, "projects/new.html", context, status_code=status_code)


@router.get("/projects/new", response_class=HTMLResponse)
def new_project(request: Request, user: WebAdmin) -> HTMLResponse:
    """The create-project form."""
    defaults = {
        "task": CLASSIFICATION,
        "features": DEFAULT_OPTIONS.features,
        "strategy": DEFAULT_OPTIONS.strategy,
        "batch_size": DEFAULT_OPTIONS.batch_size,
    }
    return _new_project_form(request, user, defaults)


class NewProjectForm(BaseModel):
    """The create-project form as submitted; `ProjectCreate` judges the values, as for the API."""

    name: str = Field(max_length=200)
    labels: str = Field(default="", max_length=100_000)  # one per line, or comma-separated
    task: str = Field(default=CLASSIFICATION, max_length=40)
    fields: str = Field(default="", max_length=1000)  # comma-separated; classification only
    layout: str = Field(default="", max_length=20)  # empty: the task's
    primary_field: str = Field(default="", max_length=40)
    strategy: str = Field(default=DEFAULT_OPTIONS.strategy, max_length=50)
    batch_size: int = DEFAULT_OPTIONS.batch_size
    multi_label: bool = False
    features: str = Field(default=DEFAULT_OPTIONS.features, max_length=20)

    def project(self) -> ProjectCreate:
        """The API's body: labels left empty are left out, so that a task with default labels
        gets them from `ProjectCreate`; the layout and primary field go with the fields, which
        only a classification project names (the other tasks have their own)."""
        data = self.model_dump(exclude={"labels", "fields", "layout", "primary_field"})
        separator = "\n" if "\n" in self.labels.strip() else ","
        labels = [part.strip() for part in self.labels.split(separator) if part.strip()]
        if labels or self.task not in DEFAULT_LABELS:
            data["labels"] = labels
        fields = [part.strip() for part in self.fields.split(",") if part.strip()]
        if self.task == CLASSIFICATION and fields:
            primary = self.primary_field.strip()
            data |= {"fields": fields, "layout": self.layout or None, "primary_field": primary}
        return ProjectCreate.model_validate(data)


class SettingsForm(BaseModel):
    """The settings form as submitted (an unticked box is False); `ProjectUpdate` judges it."""

    strategy: str = Field(max_length=50)
    batch_size: int
    diversity: bool = False
    diversity_method: str | None = Field(default=None, max_length=20)
    features: str | None = Field(default=None, max_length=20)
    epsilon: float | None = None
    committee_size: int | None = None
    warm_up: float | None = None
    overlap: int | None = None
    min_agreement: float | None = None
    audit_share: float | None = None
    recheck_share: float | None = None

    def update(self) -> ProjectUpdate:
        return ProjectUpdate.model_validate(self.model_dump())


@router.post("/projects", response_model=None)
def create_project(
    request: Request,
    session: WriteSession,
    user: WebAdmin,
    actor: ActorDep,
    form: Annotated[NewProjectForm, Form()],
) -> HTMLResponse | RedirectResponse:
    """Create a project of a task; labels come one per line (or comma-separated), fields
    comma-separated. A refusal shows the form again with everything typed still in it."""
    try:
        project = projects.create_project(session, form.project(), actor=actor)
    except ValidationError as exc:
        return _new_project_form(request, user, form.model_dump(), validation_message(exc), 422)
    except Conflict as exc:
        message = exc.message[:1].upper() + exc.message[1:]
        return _new_project_form(request, user, form.model_dump(), message, exc.status_code)
    return RedirectResponse(f"/projects/{project.id}/import", status_code=303)


def _model_context(session: Session, project: Project) -> dict[str, Any]:
    model = training.published_model(session, project)
    return {
        "model": model,
        "cv": audit_sample.cross_validated(model.metrics) if model else None,
        "audit": audit_sample.figures(model.metrics) if model else None,
        "status": training.status(session, project.id),
        "counts": projects.counts(session, project),
    }


def _dashboard_context(session: Session, project: Project, role: ProjectRole) -> dict[str, Any]:
    versions = summary.published_versions(session, project.id)
    final = final_label_counts(session, project, projects.options(project))
    counts = final.by_label
    manager = role == ProjectRole.MANAGER
    return {
        "project": project,
        "can_manage": manager,
        "can_review": role.rank >= ProjectRole.REVIEWER.rank,
        "members": members.list_members(session, project) if manager else [],
        "member_roles": list(ProjectRole),
        **_model_context(session, project),
        "label_counts": sorted(counts.items(), key=lambda kv: -kv[1]),
        "max_count": max(counts.values(), default=0) or 1,
        "awaiting_final": final.awaiting,
        "chart": learning_curve([(v.n_labels, v.metrics or {}) for v in versions]),
        "versions": versions,
        "runs": training.list_runs(session, project.id, limit=15),
        "strategies": strategy_names(),
        "committee_strategies": [s for s in strategy_names() if needs_committee(s)],
        "options": projects.options(project),
        "feature_kinds": FEATURE_KINDS,
        "diversity_methods": DIVERSITY_METHODS,
    }


@router.get("/projects/{project_id}", response_class=HTMLResponse)
def dashboard(
    request: Request,
    project: WebReadProject,
    role: ProjectRoleDep,
    session: ReadSession,
    user: WebUser,
) -> HTMLResponse:
    """Counts, label distribution, learning curve, training runs, settings, members, export."""
    context = {"current_user": user, **_dashboard_context(session, project, role)}
    return render(request, "projects/dashboard.html", context)


@router.get("/projects/{project_id}/agreement", response_class=HTMLResponse)
def agreement_panel(
    request: Request, project: WebReadProject, session: ReadSession, user: WebUser
) -> HTMLResponse:
    """The agreement panel, loaded after the dashboard (its bootstrap intervals take seconds
    on a large project) and never polled."""
    context = {"current_user": user, "agreement": project_agreement(session, project)}
    return render(request, "projects/_agreement.html", context)


@router.get("/projects/{project_id}/live", response_class=HTMLResponse)
def live(
    request: Request,
    project: WebReadProject,
    role: ProjectRoleDep,
    session: ReadSession,
    user: WebUser,
) -> HTMLResponse:
    """The self-polling part of the dashboard: model, counts, curve and runs."""
    context = {"current_user": user, **_dashboard_context(session, project, role)}
    return render(request, "projects/dashboard.html", context, block="live")


@router.post(
    "/projects/{project_id}/train",
    response_class=HTMLResponse,
    dependencies=web_rate_limited("train"),
)
def train_now(
    request: Request,
    project: WebManagedProject,
    session: WriteSession,
    user: WebUser,
    actor: ActorDep,
) -> HTMLResponse:
    """Queue a training run now."""
    training.train_now(session, project, actor=actor)
    context = {"current_user": user, **_dashboard_context(session, project, ProjectRole.MANAGER)}
    return render(request, "projects/dashboard.html", context, block="live")


@router.post("/projects/{project_id}/settings", response_class=HTMLResponse)
def update_settings(
    request: Request,
    project: WebManagedProject,
    session: WriteSession,
    user: WebUser,
    actor: ActorDep,
    form: Annotated[SettingsForm, Form()],
) -> HTMLResponse:
    """Change the query strategy, batch size, features, diversity (and its method),
    exploration, committee, warm-up."""
    try:
        data = form.update()
    except ValidationError as exc:
        raise Invalid(validation_message(exc)) from None
    projects.update_project(session, project, data, actor=actor)
    context = {
        "current_user": user,
        "saved": True,
        **_dashboard_context(session, project, ProjectRole.MANAGER),
    }
    return render(request, "projects/dashboard.html", context, block="settings")


@router.get("/projects/{project_id}/export.{fmt}", dependencies=web_rate_limited("export"))
def export_file(
    project: WebWriteProject,
    role: ProjectRoleDep,
    user: WebUser,
    fmt: str,
    session: WriteSession,
    db: DatabaseDep,
    actor: ActorDep,
) -> StreamingResponse:
    """Download every annotation (an annotator: their own) as CSV or JSONL, or a task's own
    export (summaries, triples), audited."""
    user_id = export.rows_of(role, user)
    lines, media, filename = export.open_stream(db.reader, project, fmt, user_id=user_id)
    export.record_export(session, project, fmt, actor=actor, own_rows=user_id is not None)
    return StreamingResponse(
        lines,
        media_type=f"{media}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
