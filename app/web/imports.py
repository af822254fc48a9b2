"""Upload a dataset in the browser: upload with progress, preview, map fields, import."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse

from app.deps import ActorDep, ReadSession, SettingsDep, WriteSession
from app.errors import AppError, Invalid
from app.fields import PathId, Text
from app.items import jobs, removal
from app.items import service as items
from app.items.uploads import keep_and_preview, uploads_dir
from app.models import ImportStatus
from app.projects.service import get_project
from app.ratelimits import web_rate_limited
from app.routing import GuardedRoute
from app.web.access import WebManagedProject, WebManagedProjectRef
from app.web.security import WebUser, check_csrf
from app.web.templating import flash, render, take_flash

router = APIRouter(dependencies=[Depends(check_csrf)], route_class=GuardedRoute)
UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}\.(csv|tsv|jsonl|json)$")


def _uploads(settings: SettingsDep) -> Path:
    return uploads_dir(settings)


@router.get("/projects/{project_id}/import", response_class=HTMLResponse)
def import_page(
    request: Request, project: WebManagedProject, session: WriteSession, user: WebUser
) -> HTMLResponse:
    """Choose a file to upload; the project's imports, each succeeded one with its undo."""
    context = {
        "current_user": user,
        "project": project,
        "jobs": jobs.list_jobs(session, project.id),
        "notice": take_flash(request),
    }
    return render(request, "projects/import.html", context)


@router.post("/projects/{project_id}/imports/{job_id}/undo")
def undo_import(
    request: Request,
    project: WebManagedProject,
    job_id: PathId,
    session: WriteSession,
    actor: ActorDep,
) -> RedirectResponse:
    """Undo an import: delete the items it added, with their labels."""
    deleted = removal.undo_import(session, project, job_id, actor=actor)
    items_word = "item" if deleted == 1 else "items"
    flash(request, f"Import {job_id} undone: {deleted:,} {items_word} deleted, with their labels.")
    return RedirectResponse(f"/projects/{project.id}/import", status_code=303)


@router.post(
    "/projects/{project_id}/import/preview",
    response_class=HTMLResponse,
    dependencies=web_rate_limited("import"),
)
def upload_preview(
    request: Request,
    project: WebManagedProject,
    session: WriteSession,
    settings: SettingsDep,
    user: WebUser,
    file: Annotated[UploadFile, File()],
) -> HTMLResponse:
    """Keep the uploaded file aside and show its layout, columns and first rows for mapping."""
    context: dict[str, Any] = {"current_user": user, "project": project}
    try:
        context["kept"] = keep_and_preview(settings, project, file.file, file.filename)
    except AppError as exc:  # shown in place of the mapping form, which it replaces
        context.update(problem=exc.message, filename=file.filename or "upload")
        return render(
            request, "projects/import.html", context, block="mapping", status_code=exc.status_code
        )
    return render(request, "projects/import.html", context, block="mapping")


@router.post(
    "/projects/{project_id}/import",
    response_class=HTMLResponse,
    dependencies=web_rate_limited("import"),
)
def run_import(
    request: Request,
    project: WebManagedProjectRef,  # loaded below: a large file is copied before the session begins
    session: WriteSession,
    settings: SettingsDep,
    tasks: BackgroundTasks,
    user: WebUser,
    actor: ActorDep,
    upload_id: Annotated[str, Form(max_length=100)],
    text_field: Annotated[str, Form(min_length=1, max_length=200)],
    label_field: Annotated[str, Form(max_length=200)] = "",
    id_field: Annotated[str, Form(max_length=200)] = "",
    filename: Annotated[Text, Form(max_length=300)] = "",
) -> HTMLResponse:
    """Import the kept file with the chosen mapping, all or nothing (a large file in a job)."""
    kept = UPLOAD_ID.match(upload_id)
    if not kept or not (_uploads(settings) / upload_id).is_file():
        raise Invalid("the uploaded file has expired; upload it again")
    path = _uploads(settings) / upload_id
    options = items.ImportOptions(
        filename=filename.strip() or path.name,  # the client's name: for people only
        format=kept.group(1),  # the kept file's format, whatever that name says
        text_field=text_field,
        label_field=label_field or None,
        id_field=id_field or None,
        max_text_chars=settings.max_text_chars,
    )
    if jobs.in_background(settings, path.stat().st_size, None):
        with path.open("rb") as fh:
            job = jobs.start(session, settings, project.id, fh, options, actor=actor)
        path.unlink(missing_ok=True)
        tasks.add_task(request.app.state.imports.submit, job.id)
        loaded = get_project(session, project.id)
        context: dict[str, Any] = {"current_user": user, "project": loaded, "job": job}
        return render(request, "projects/import.html", context, block="job")
    loaded = get_project(session, project.id)
    context = {"current_user": user, "project": loaded, "error": None, "result": None}
    try:
        with path.open("rb") as fh, session.begin_nested():
            context["result"] = items.import_file(session, loaded, fh, options, actor=actor)
        path.unlink(missing_ok=True)
    except AppError as exc:
        context["error"] = exc.message
        context["upload_id"] = upload_id
    return render(request, "projects/import.html", context, block="result")


@router.get("/projects/{project_id}/import/jobs/{job_id}", response_class=HTMLResponse)
def import_job(
    request: Request,
    project: WebManagedProjectRef,
    job_id: PathId,
    session: ReadSession,
    user: WebUser,
) -> HTMLResponse:
    """The progress of a background import (polled), then its result."""
    job = jobs.get_job(session, project.id, job_id)  # first: its 404 names the job
    loaded = get_project(session, project.id)
    context: dict[str, Any] = {"current_user": user, "project": loaded, "job": job}
    if job.status in (ImportStatus.QUEUED, ImportStatus.RUNNING):
        return render(request, "projects/import.html", context, block="job")
    context.update(result=job if job.status == ImportStatus.SUCCEEDED else None, error=job.error)
    return render(request, "projects/import.html", context, block="result")
