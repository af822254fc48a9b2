"""The audit log: one ``record`` call per security-relevant action, in the action's own
transaction (so a rolled-back action leaves no event, and a committed one always has one)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

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
            target=target[:200] if target else target,
            project_id=project_id,
            address=actor.address,
            detail=detail,
        )
    )
