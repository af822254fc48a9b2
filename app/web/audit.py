"""The audit log screen for admins: newest events first, filtered by action and actor."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from app.audit import service as audit
from app.deps import ReadSession
from app.fields import MAX_ID, Text
from app.routing import GuardedRoute
from app.web.security import WebAdmin, check_csrf
from app.web.templating import render

router = APIRouter(dependencies=[Depends(check_csrf)], route_class=GuardedRoute)
PAGE_SIZE = 100


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    session: ReadSession,
    user: WebAdmin,
    action: Annotated[Text, Query(max_length=40)] = "",
    actor: Annotated[Text, Query(max_length=100)] = "",
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> HTMLResponse:
    """Audit events, newest first, a page at a time ("older" follows the last one)."""
    where = audit.AuditFilter(action=action.strip() or None, actor=actor.strip() or None)
    page = audit.list_events(session, where, before_id=before_id, limit=PAGE_SIZE)
    context = {
        "current_user": user,
        "rows": [(event, summary(event.detail)) for event in page.events],
        "next": page.next,
        "action": action.strip(),
        "actor": actor.strip(),
        "before_id": before_id,
    }
    return render(request, "audit.html", context)


def summary(detail: dict[str, Any] | None) -> str:
    """One line for a table cell: ``key: value`` pairs, a settings change as ``old → new``."""
    parts = []
    for key, value in (detail or {}).items():
        if key == "changes" and isinstance(value, dict):
            parts += [f"{name}: {_change(change)}" for name, change in value.items()]
        else:
            parts.append(f"{key}: {value}")
    return ", ".join(parts)


def _change(change: object) -> str:
    if isinstance(change, dict) and {"old", "new"} <= change.keys():
        return f"{change['old']} → {change['new']}"
    return str(change)
