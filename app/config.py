"""Typed settings from ``LABELLOOP_*`` environment variables; defaults run locally."""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_SECRET_CHARS = 32
# Values people leave in place of a secret (compared lower-cased, without - _ . and spaces).
PLACEHOLDER_SECRETS = frozenset(
    {
        "changeme",
        "changethis",
        "replaceme",
        "secret",
        "secretkey",
        "mysecret",
        "yoursecret",
        "yoursecretkey",
        "supersecret",
        "password",
        "default",
        "development",
        "dev",
        "test",
        "insecure",
        "labelloop",
        "example",
        "placeholder",
        "xxx",
        "todo",
    }
)


class Settings(BaseSettings):
    """Runtime configuration; every field can be set as ``LABELLOOP_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="LABELLOOP_", frozen=True)

    data_dir: Path = Field(default=Path("var"), description="Model artifacts and feature caches.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; defaults to a SQLite file in data_dir."
    )
    max_upload_bytes: int = Field(default=200 * 1024 * 1024, gt=0)
    max_text_chars: int = Field(default=100_000, gt=0)
    import_background_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=0,
        description="Uploads larger than this are imported by a background job (202).",
    )
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
    worker_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="Niceness added to the training worker, so request handling gets the CPU "
        "first (`labelloop worker`: the process; embedded: its thread, on Linux only).",
    )
    worker_threads: int = Field(
        default=1,
        ge=0,
        description="BLAS/OpenMP threads of `labelloop worker`, and the threads that score "
        "the pool chunk by chunk (0: the libraries' default, all cores).",
    )
    dask_scheduler: str | None = Field(
        default=None,
        description="Dask scheduler address (tcp://host:8786) that scores the pool and embeds "
        "texts; unset: the training worker does it in-process.",
    )
    sqlite_synchronous: Literal["normal", "full"] = Field(
        default="normal",
        description="SQLite commits: `normal` never waits for the disk (a killed process "
        "loses nothing; a power loss may lose the last second); `full` fsyncs every label.",
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
    environment: Literal["development", "production"] = Field(
        default="development",
        description="Outside development a placeholder or short secret_key is refused.",
    )
    login_max_failures: int = Field(
        default=5, gt=0, description="Failed sign-ins per username and address per window."
    )
    login_window_seconds: float = Field(default=300.0, gt=0)

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @model_validator(mode="after")
    def _real_secret_outside_development(self) -> Settings:
        problem = secret_key_problem(self.secret_key)
        if problem and self.environment != "development":
            raise ValueError(
                f"LABELLOOP_SECRET_KEY {problem}; set a random value of at least "
                f"{MIN_SECRET_CHARS} characters (python3 -c 'import secrets; "
                "print(secrets.token_urlsafe(48))'), or unset it to generate one into "
                "the data directory"
            )
        return self

    @cached_property
    def sqlalchemy_url(self) -> str:
        """The database URL in use: the configured one or the SQLite file under ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'labelloop.db'}"

    def project_dir(self, project_id: int) -> Path:
        """Directory holding one project's model files and feature caches."""
        return self.data_dir / "projects" / str(project_id)


def secret_key_problem(secret: str | None) -> str | None:
    """Why ``secret`` is unfit to sign sessions (placeholder, too short); None if fine or unset."""
    if secret is None:
        return None
    if re.sub(r"[\s._-]+", "", secret.lower()) in PLACEHOLDER_SECRETS:
        return "is a well-known placeholder"
    if len(secret) < MIN_SECRET_CHARS:
        return f"is {len(secret)} characters long, shorter than {MIN_SECRET_CHARS}"
    if len(set(secret)) < 8:
        return "repeats too few distinct characters to be random"
    return None
