"""Imports: every import of a file, a large one run in the background with progress to poll."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, utcnow


class ImportStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNDONE = "undone"  # its items were deleted again


class ImportJob(Base):
    __tablename__ = "import_jobs"
    __table_args__ = (
        Index("ix_import_jobs_project", "project_id", "id"),
        Index("ix_import_jobs_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20), default=ImportStatus.QUEUED)
    # The client's file name, shown to people only; the stored file has a random name.
    filename: Mapped[str] = mapped_column(String(300))
    stored_name: Mapped[str] = mapped_column(String(100))
    format: Mapped[str] = mapped_column(String(10))
    text_field: Mapped[str] = mapped_column(String(200))
    label_field: Mapped[str | None] = mapped_column(String(200))
    id_field: Mapped[str | None] = mapped_column(String(200))
    # A project with named fields: field -> column, as the import was asked (None: by name).
    field_map: Mapped[dict[str, str] | None] = mapped_column(JSON(none_as_null=True))
    correction_field: Mapped[str | None] = mapped_column(String(200))
    bytes_total: Mapped[int] = mapped_column(BigInteger)
    bytes_done: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    imported: Mapped[int | None] = mapped_column(Integer)
    duplicates: Mapped[int | None] = mapped_column(Integer)
    labeled: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    # The ids of the items it added: the project's items from first to last (None: none).
    first_item_id: Mapped[int | None] = mapped_column(Integer)
    last_item_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Written by the runner with every chunk; a job that stops beating is failed (see jobs.py).
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
