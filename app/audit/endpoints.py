"""JSON route for reading the audit log (admins only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from app.audit import service
from app.audit.schemas import AuditEventOut, AuditPageOut
from app.deps import AdminUser, ReadSession
from app.errors import responses
from app.fields import MAX_ID, Text
from app.routing import GuardedRoute

router = APIRouter(
    prefix="/audit", tags=["audit"], responses=responses(403), route_class=GuardedRoute
)


@router.get("")
def list_audit_events(
    session: ReadSession,
    _: AdminUser,
    before_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="The `next` of the previous page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 100,
    action: Annotated[
        Text | None,
        Query(max_length=40, description="Exact, or a prefix ending in a dot: `user.`."),
    ] = None,
    actor: Annotated[Text | None, Query(max_length=100, description="A user name.")] = None,
    project_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    since: Annotated[
        datetime | None, Query(description="Events at or after this time (UTC if no zone).")
    ] = None,
) -> AuditPageOut:
    """Audit events, newest first, a keyset page at a time."""
    where = service.AuditFilter(action=action, actor=actor, project_id=project_id, since=since)
    page = service.list_events(session, where, before_id=before_id, limit=limit)
    return AuditPageOut(
        events=[AuditEventOut.model_validate(e) for e in page.events], next=page.next
    )
