"""The items screen (the data manager): a project's pool as a table, filtered and paged by
keys; reviewers relabel rows and label a selection, managers delete one. An item's label
history opens under its row."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import AfterValidator, Field
from sqlalchemy.orm import Session

from app.annotations.history import item_history
from app.deps import ActorDep, ReadSession, WriteSession
from app.errors import Invalid
from app.fields import MAX_ID, PathId, no_nul
from app.items import export, filters, listing, manager, removal
from app.models import Project
from app.projects import service as projects
from app.projects.access import ProjectRoleDep
from app.routing import GuardedRoute
from app.web.access import WebManagedProject, WebProjectRef, WebReadProject, WebReviewProject
from app.web.security import WebUser, check_csrf
from app.web.templating import render

router = APIRouter(dependencies=[Depends(check_csrf)], route_class=GuardedRoute)
PAGE_SIZE = 100
TEMPLATE = "projects/items.html"
FIELDS = (
    "q",
    "label",
    "annotator",
    "status",
    "source",
    "prediction",
    "min_conf",
    "max_conf",
    "sort",
)

After = Annotated[int, Query(ge=0, le=MAX_ID)]
Score = Annotated[float | None, Query(allow_inf_nan=False)]
Text = Annotated[str, AfterValidator(no_nul), Query(max_length=500)]
Ids = Annotated[
    list[Annotated[int, Field(ge=1, le=MAX_ID)]],
    Form(min_length=1, max_length=manager.MAX_SELECTION),
]


def _confidence(value: str, name: str) -> float | None:
    if not value.strip():
        return None
    try:
        number = float(value) / 100
    except ValueError:
        raise Invalid(f"{name}: a percentage from 0 to 100, not {value!r}") from None
    if not 0 <= number <= 1:
        raise Invalid(f"{name}: a percentage from 0 to 100, not {value!r}")
    return number


def _source(value: str) -> filters.Source | None:
    for source in filters.SOURCES:
        if value == source:
            return source
    if value:
        raise Invalid(f"source: one of {', '.join(filters.SOURCES)}, not {value!r}")
    return None


def web_filter(
    role: ProjectRoleDep,
    user: WebUser,
    q: Text = "",
    label: Text = "",
    annotator: Text = "",
    status: filters.ItemStatus = "all",
    source: Annotated[str, Query(max_length=20)] = "",
    prediction: Text = "",
    min_conf: Annotated[str, Query(max_length=20)] = "",
    max_conf: Annotated[str, Query(max_length=20)] = "",
    sort: filters.Sort = "id",
) -> filters.ItemFilter:
    """The form's filters (empty fields are no filter; confidence in per cent)."""
    return filters.ItemFilter(
        q=q.strip() or None,
        label=label or None,
        annotator=annotator.strip() or None,
        status=status,
        source=_source(source),
        prediction=prediction or None,
        min_confidence=_confidence(min_conf, "min_conf"),
        max_confidence=_confidence(max_conf, "max_conf"),
        sort=sort,
        own_user_id=export.rows_of(role, user),
    )


WebFilter = Annotated[filters.ItemFilter, Depends(web_filter)]


def _query(request: Request) -> str:
    """The filter part of the page's query string, to keep it across pages and actions."""
    return urlencode([(k, v) for k, v in request.query_params.multi_items() if k in FIELDS])


def _context(
    request: Request,
    session: Session,
    project: Project,
    flt: filters.ItemFilter,
    cursor: tuple[int, float | None],
) -> dict[str, Any]:
    after, after_score = cursor
    page = listing.list_items(
        session, project, after=after, after_score=after_score, limit=PAGE_SIZE, flt=flt
    )
    return {
        "project": project,
        "page": page,
        "flt": asdict(flt),
        "form": dict(request.query_params),
        "query": _query(request),
        "after": after,
        "own_view": flt.own_user_id is not None,
    }


@router.get("/projects/{project_id}/items", response_class=HTMLResponse)
def items_page(
    request: Request,
    project: WebReadProject,
    session: ReadSession,
    user: WebUser,
    role: ProjectRoleDep,
    flt: WebFilter,
    after: After = 0,
    after_score: Score = None,
) -> HTMLResponse:
    """The project's items with their labels and the model's guess, filtered, a page at a time."""
    context = _context(request, session, project, flt, (after, after_score))
    context["counts"] = projects.counts(session, project)
    context["role"] = role.value
    context["done"] = request.query_params.get("done", "")
    return render(request, TEMPLATE, {"current_user": user, **context})


@router.get("/projects/{project_id}/items/more", response_class=HTMLResponse)
def more_items(
    request: Request,
    project: WebReadProject,
    session: ReadSession,
    user: WebUser,
    role: ProjectRoleDep,
    flt: WebFilter,
    after: After = 0,
    after_score: Score = None,
) -> HTMLResponse:
    """The next page's rows (and its own "next page" row), to append to the table."""
    context = _context(request, session, project, flt, (after, after_score))
    context["role"] = role.value
    return render(request, TEMPLATE, {"current_user": user, **context}, block="rows")


def _back(project: Project, query: str, done: str) -> RedirectResponse:
    """Back to the filtered first page (only the filter fields survive), saying what was done."""
    kept = [(k, v) for k, v in parse_qsl(query) if k in FIELDS]
    target = f"/projects/{project.id}/items?{urlencode([*kept, ('done', done)])}"
    return RedirectResponse(target, status_code=303)


@router.post("/projects/{project_id}/items/label")
def label_items(
    project: WebReviewProject,
    session: WriteSession,
    user: WebUser,
    actor: ActorDep,
    ids: Ids,
    label: Annotated[str, AfterValidator(no_nul), Form(min_length=1, max_length=200)],
    query: Annotated[str, Form(max_length=4000)] = "",
) -> RedirectResponse:
    """Set the final label of the selected rows (an adjudication each), then show the page."""
    n = manager.relabel(session, project, user, item_ids=ids, labels=[label], actor=actor)
    return _back(project, query, f"labelled {n} as {label}")


@router.post("/projects/{project_id}/items/review")
def review_items(
    project: WebReviewProject,
    session: WriteSession,
    user: WebUser,
    actor: ActorDep,
    ids: Ids,
    query: Annotated[str, Form(max_length=4000)] = "",
) -> RedirectResponse:
    """Send the selected rows to the review queue, then show the page."""
    n = manager.send_to_review(session, project, user, item_ids=ids, actor=actor)
    return _back(project, query, f"sent {n} to review")


@router.post("/projects/{project_id}/items/delete")
def delete_items(
    project: WebManagedProject,
    session: WriteSession,
    actor: ActorDep,
    ids: Ids,
    query: Annotated[str, Form(max_length=4000)] = "",
) -> RedirectResponse:
    """Delete the selected items with their labels (audited; no undo), then show the page."""
    n = removal.delete_items(session, project, ids, actor=actor)
    return _back(project, query, f"deleted {n}")


@router.get("/projects/{project_id}/items/{item_id}/history", response_class=HTMLResponse)
def history_row(
    request: Request,
    project: WebProjectRef,
    item_id: PathId,
    session: ReadSession,
    user: WebUser,
    role: ProjectRoleDep,
) -> HTMLResponse:
    """A table row with the item's current labels and the replaced or withdrawn ones (an
    annotator's own only)."""
    own = export.rows_of(role, user)
    history = item_history(session, project.id, item_id, user_id=own)
    context = {"current_user": user, "history": history}
    return render(request, TEMPLATE, context, block="history")
