"""The audit log: one ``record`` call per security-relevant action, in the action's own
transaction (so a rolled-back action leaves no event, and a committed one always has one),
and the newest-first listing admins read it with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from app.errors import Invalid
from app.models import AuditEvent, User


@dataclass(frozen=True)
class Actor:
    """Who acts and from where: the signed-in or token user (None: anonymous, the CLI)."""

    user: User | None
    address: str | None

    @property
    def name(self) -> str | None:
        return self.user.name if self.user is not None else None


CLI = Actor(user=None, address="cli")


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    target: str | None = None,
    project_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add one event; ``action`` is a dotted name such as ``user.disable`` or ``signin.failed``."""
    session.add(
        AuditEvent(
            actor_id=actor.user.id if actor.user is not None else None,
            actor_name=actor.name,
            action=action,
            target=_storable(target[:200]) if target else target,
            project_id=project_id,
            address=actor.address,
            detail=detail,
        )
    )


def _storable(text: str) -> str:
    """``text`` with NUL shown as ``\\x00``: PostgreSQL cannot store NUL, and a failed
    sign-in's name (what the caller typed) may hold one."""
    return text.replace("\x00", "\\x00")


MAX_PAGE = 500


@dataclass(frozen=True)
class AuditFilter:
    """What to list: ``action`` is exact, or a prefix when it ends with a dot (``user.``)."""

    action: str | None = None
    actor: str | None = None
    project_id: int | None = None
    since: datetime | None = None


@dataclass(frozen=True)
class AuditPage:
    events: list[AuditEvent]
    next: int | None  # the ``before_id`` of the next (older) page; None on the last page


def list_events(
    session: Session, where: AuditFilter, *, before_id: int | None = None, limit: int = 100
) -> AuditPage:
    """Up to ``limit`` (≤ ``MAX_PAGE``) events, newest first, with an id below ``before_id``.

    Keyset pages on the primary key: a deep page costs what the first one does, and events
    written meanwhile never shift a page (they only appear on the first).
    """
    limit = max(1, min(limit, MAX_PAGE))
    stmt = select(AuditEvent).where(*_conditions(where))
    if before_id is not None:
        stmt = stmt.where(AuditEvent.id < before_id)
    events = list(session.scalars(stmt.order_by(AuditEvent.id.desc()).limit(limit + 1)))
    more = len(events) > limit
    events = events[:limit]
    return AuditPage(events=events, next=events[-1].id if more else None)


def _conditions(where: AuditFilter) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if where.action:
        if where.action.endswith("."):
            found.append(AuditEvent.action.startswith(where.action, autoescape=True))
        else:
            found.append(AuditEvent.action == where.action)
    if where.actor:
        found.append(AuditEvent.actor_name == where.actor)
    if where.project_id is not None:
        found.append(AuditEvent.project_id == where.project_id)
    if where.since is not None:
        found.append(AuditEvent.at >= _utc(where.since))
    return found


def _utc(moment: datetime) -> datetime:
    """``moment`` in UTC (a naive one is taken as UTC already)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # such as 0001-01-01T00:00+01:00
        raise Invalid("since: the time is out of range") from None
