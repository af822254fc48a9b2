"""Typed settings from ``LABELLOOP_*`` environment variables; defaults run locally."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime configuration; every field can be set as ``LABELLOOP_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="LABELLOOP_", frozen=True)

    data_dir: Path = Field(default=Path("var"), description="Model artifacts and feature caches.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; defaults to a SQLite file in data_dir."
    )
    max_upload_bytes: int = Field(default=200 * 1024 * 1024, gt=0)
    max_text_chars: int = Field(default=100_000, gt=0)
    lease_seconds: int = Field(default=600, gt=0)
    queue_max_limit: int = Field(default=100, gt=0)
    ranking_depth: int = Field(
        default=2_000, gt=0, description="How many top-ranked items a model version publishes."
    )
    worker_poll_seconds: float = Field(default=0.2, gt=0)
    worker_heartbeat_seconds: float = Field(default=5.0, gt=0)
    worker_stale_seconds: float = Field(
        default=60.0, gt=0, description="A running run without a heartbeat this long is failed."
    )
    embedded_worker: bool = Field(
        default=True, description="`labelloop serve` runs the training worker in-process."
    )
    cv_folds: int = Field(default=5, ge=2)
    secret_key: str | None = Field(
        default=None, description="Signs session cookies; generated into data_dir if unset."
    )
    secure_cookies: bool = Field(default=False, description="Send cookies over HTTPS only.")
    session_days: int = Field(default=14, gt=0)

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @cached_property
    def sqlalchemy_url(self) -> str:
        """The database URL in use: the configured one or the SQLite file under ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'labelloop.db'}"

    def project_dir(self, project_id: int) -> Path:
        """Directory holding one project's model files and feature caches."""
        return self.data_dir / "projects" / str(project_id)
