"""Users: a role, a password (optional: API-only accounts have none), and account state."""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, utcnow


class Role(StrEnum):
    ADMIN = "admin"
    ANNOTATOR = "annotator"


def _unissued_digest() -> str:
    return secrets.token_hex(32)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    # Kept from the schema before named tokens (``api_tokens``): SQLite cannot drop a UNIQUE
    # column in place, and rebuilding ``users`` would null every annotation's user_id. It
    # holds a random digest of no issued token and is never read.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, default=_unissued_digest)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_active(self) -> bool:
        """May sign in and use tokens: neither disabled nor deleted."""
        return self.disabled_at is None and self.deleted_at is None
