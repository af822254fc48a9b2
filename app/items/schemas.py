"""Import response bodies of the JSON API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ImportOut(BaseModel):
    imported: int
    duplicates: int
    labeled: int
    import_id: int | None
    documents: int | None = Field(
        default=None,
        description="Sentence selection: documents added (their sentences are "
        "the items imported; duplicates counts documents the project had).",
    )


class ImportJobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    project_id: int
    status: Literal["queued", "running", "succeeded", "failed", "undone"]
    filename: str
    bytes_total: int
    bytes_done: int
    rows_done: int
    imported: int | None
    duplicates: int | None
    labeled: int | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    first_item_id: int | None
    last_item_id: int | None
