"""The items screen: a project's pool as a table, one keyset page at a time; an item's label
history opens under its row."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from app.annotations.history import item_history
from app.deps import ReadSession
from app.fields import MAX_ID, PathId
from app.items import listing
from app.models import Project
from app.projects import service as projects
from app.routing import GuardedRoute
from app.web.access import WebProjectRef, WebReadProject
from app.web.security import WebUser, check_csrf
from app.web.templating import render

router = APIRouter(dependencies=[Depends(check_csrf)], route_class=GuardedRoute)
PAGE_SIZE = 100
TEMPLATE = "projects/items.html"

After = Annotated[int, Query(ge=0, le=MAX_ID)]


def _context(
    session: Session, project: Project, after: int, status: listing.ItemStatus
) -> dict[str, Any]:
    page = listing.list_items(session, project, after=after, limit=PAGE_SIZE, status=status)
    return {"project": project, "page": page, "status": status, "after": after}


@router.get("/projects/{project_id}/items", response_class=HTMLResponse)
def items_page(
    request: Request,
    project: WebReadProject,
    session: ReadSession,
    user: WebUser,
    after: After = 0,
    status: listing.ItemStatus = "all",
) -> HTMLResponse:
    """The project's items with their latest labels, a page at a time, filterable by status."""
    context = _context(session, project, after, status)
    context["counts"] = projects.counts(session, context["project"])
    return render(request, TEMPLATE, {"current_user": user, **context})


@router.get("/projects/{project_id}/items/more", response_class=HTMLResponse)
def more_items(
    request: Request,
    project: WebReadProject,
    session: ReadSession,
    user: WebUser,
    after: After = 0,
    status: listing.ItemStatus = "all",
) -> HTMLResponse:
    """The next page's rows (and its own "next page" row), to append to the table."""
    context = _context(session, project, after, status)
    return render(request, TEMPLATE, {"current_user": user, **context}, block="rows")


@router.get("/projects/{project_id}/items/{item_id}/history", response_class=HTMLResponse)
def history_row(
    request: Request, project: WebProjectRef, item_id: PathId, session: ReadSession, user: WebUser
) -> HTMLResponse:
    """A table row with the item's current labels and the replaced or withdrawn ones."""
    context = {"current_user": user, "history": item_history(session, project.id, item_id)}
    return render(request, TEMPLATE, context, block="history")
