"""Audit log response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor: str | None = Field(
        validation_alias="actor_name",
        description="The user's name when the event happened (None: anonymous or the CLI).",
    )
    actor_id: int | None
    action: str = Field(description="A dotted name: `import`, `project.update`, `signin.failed`.")
    target: str | None
    project_id: int | None
    address: str | None = Field(description="The client's IP address (`cli` for commands).")
    detail: dict[str, Any] | None


class AuditPageOut(BaseModel):
    events: list[AuditEventOut]
    next: int | None = Field(description="The `before_id` of the next, older page (None: last).")
