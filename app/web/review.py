"""The review screen: items waiting for a reviewer, with every label and the model's guess;
a label button settles an item in place (HTMX), and the keys 1-9 press them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from app.deps import ActorDep, ReadSession, WriteSession
from app.fields import PathId
from app.items import display
from app.models import Project, User
from app.review import service
from app.routing import GuardedRoute
from app.web.access import WebReviewProject, WebReviewReadProject
from app.web.security import WebUser, check_csrf
from app.web.templating import render

router = APIRouter(dependencies=[Depends(check_csrf)], route_class=GuardedRoute)
TEMPLATE = "review.html"
PAGE_SIZE = 50


@router.get("/projects/{project_id}/review", response_class=HTMLResponse)
def review_page(
    request: Request, project: WebReviewReadProject, session: ReadSession, user: WebUser
) -> HTMLResponse:
    """The items waiting for review, oldest item first."""
    entries = service.review_queue(session, project, limit=PAGE_SIZE)
    context = _context(session, project, user, entries)
    return render(request, TEMPLATE, {**context, "entries": entries, "page": PAGE_SIZE})


@router.post("/projects/{project_id}/review/{item_id}", response_class=HTMLResponse)
def adjudicate(
    request: Request,
    project: WebReviewProject,
    item_id: PathId,
    session: WriteSession,
    user: WebUser,
    actor: ActorDep,
    label: Annotated[list[str], Form()] = (),  # type: ignore[assignment]
    note: Annotated[str, Form(max_length=service.MAX_NOTE)] = "",
) -> HTMLResponse:
    """Set the item's final label; its card shows the decision in place."""
    entry = service.adjudicate(
        session, project, user, item_id=item_id, labels=list(label), note=note, actor=actor
    )
    context = _context(session, project, user, [entry])
    return render(request, TEMPLATE, {**context, "entry": entry}, block="entry")


def _context(
    session: Session, project: Project, user: User, entries: list[service.Entry]
) -> dict[str, Any]:
    """What every card needs: how its item is shown (fields, a sentence in its document), as
    on the annotate screen, whose item body the card reuses without its correction box."""
    return {
        "current_user": user,
        "project": project,
        "views": display.shown(session, project, [e.item.id for e in entries]),
        "side_by_side": display.side_by_side(project),
        "reviewing": True,
    }
