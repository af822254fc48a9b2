"""Typed settings from ``LABELLOOP_*`` environment variables; defaults run locally."""

from __future__ import annotations

import ipaddress
import json
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

import limits
from pydantic import (
    AfterValidator,
    Field,
    HttpUrl,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.secret_strength import GENERATE_HINT, secret_key_problem

__all__ = ["Settings", "secret_key_problem"]


def _one_rate_limit(value: str) -> str:
    """Fail at startup on a limit ``limits`` cannot read ("30/minute", "1200 per minute")."""
    if len(limits.parse_many(value)) != 1:
        raise ValueError(f"{value!r}: give one limit, such as '30/minute'")
    return value


RateLimit = Annotated[str, AfterValidator(_one_rate_limit)]


QUEUE_LIMIT_CEILING = 100  # the API schema's maximum for ?limit=; the setting may lower it


class Settings(BaseSettings):
    """Runtime configuration; every field can be set as ``LABELLOOP_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="LABELLOOP_", frozen=True)

    data_dir: Path = Field(default=Path("var"), description="Model artifacts and feature caches.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; defaults to a SQLite file in data_dir."
    )
    max_upload_bytes: int = Field(default=200 * 1024 * 1024, gt=0)
    max_text_chars: int = Field(default=100_000, gt=0)
    predict_max_chars: int = Field(
        default=50_000,
        gt=0,
        description="Characters of all the texts of one predict request together (413 "
        "above). At 50k a predict costs about 0.06 CPU s with TF-IDF features and 2-4 s "
        "with MiniLM, whose cost grows with the tokens read (bench/abuse.py).",
    )
    rate_limit_queue: RateLimit = Field(
        default="1200/minute", description="GET /queue requests per user (429 above)."
    )
    rate_limit_label: RateLimit = Field(
        default="1200/minute", description="Annotation requests (single or bulk) per user."
    )
    rate_limit_predict: RateLimit = Field(default="30/minute", description="Per user.")
    rate_limit_import: RateLimit = Field(default="30/minute", description="Per user.")
    rate_limit_export: RateLimit = Field(default="30/minute", description="Per user.")
    rate_limit_train: RateLimit = Field(default="30/minute", description="Per user.")
    import_background_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=0,
        description="Uploads larger than this are imported by a background job (202).",
    )
    preview_ttl_hours: float = Field(
        default=24.0,
        gt=0,
        description="A file uploaded in the browser and not imported this long is deleted.",
    )
    lease_seconds: int = Field(default=600, gt=0)
    queue_max_limit: int = Field(
        default=QUEUE_LIMIT_CEILING,
        gt=0,
        le=QUEUE_LIMIT_CEILING,
        description="The most items one queue request (API or annotate screen) leases.",
    )
    ranking_depth: int = Field(
        default=2_000, gt=0, description="How many top-ranked items a model version publishes."
    )
    fast_features_above: int = Field(
        default=2_000,
        ge=0,
        description="A MiniLM project with more items than this still to embed (about 15 s of "
        "MiniLM on two cores) trains on static embeddings distilled from MiniLM (tens of "
        "thousands of texts a second) while the worker embeds the rest in the background, then "
        "switches to MiniLM; 0: a run always embeds what it needs first.",
    )
    worker_poll_seconds: float = Field(default=0.2, gt=0)
    worker_heartbeat_seconds: float = Field(default=5.0, gt=0)
    oracle_poll_seconds: float = Field(
        default=1.0, gt=0, description="How often an idle worker looks for items to pre-label."
    )
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
    malloc_arenas: int = Field(
        default=2,
        ge=0,
        description="glibc malloc arenas of `labelloop serve` and `labelloop worker` (0: "
        "glibc's default, up to 8 per core). Every thread that allocates gets an arena up to "
        "this cap, and each keeps its own freed pages: fewer arenas, less resident memory.",
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
    public_url: HttpUrl | None = Field(
        default=None,
        description="The address users reach (https://labels.example.org); https implies "
        "secure_cookies and sends Strict-Transport-Security.",
    )
    secure_cookies: bool = Field(
        default=False,
        validate_default=True,
        description="Send cookies over HTTPS only (always, with an https public_url).",
    )
    session_days: int = Field(
        default=14, gt=0, description="Absolute lifetime of a web session, from sign-in."
    )
    session_idle_minutes: int = Field(
        default=720, gt=0, description="A web session unused this long ends."
    )
    environment: Literal["development", "production"] = Field(
        default="development",
        description="Outside development a weak secret_key is refused.",
    )
    login_max_failures: int = Field(
        default=5, gt=0, description="Failed sign-ins per username and address per window."
    )
    login_window_seconds: float = Field(default=300.0, gt=0)
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default=[],
        description="Addresses or CIDR networks of the reverse proxies whose X-Forwarded-For "
        "and X-Forwarded-Proto are believed (comma-separated or a JSON list); empty: nobody's.",
    )
    oracle_hosts: Annotated[list[str], NoDecode] = Field(
        default=[],
        description="Hosts, addresses or CIDR networks an oracle may call although they are "
        "internal (loopback, private, link-local), e.g. `127.0.0.1` for `labelloop oracle "
        "serve-local`; public hosts are always allowed. Comma-separated or a JSON list.",
    )

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("secure_cookies")
    @classmethod
    def _https_implies_secure(cls, value: bool, info: ValidationInfo) -> bool:
        url = info.data.get("public_url")
        return value or (url is not None and url.scheme == "https")

    @field_validator("trusted_proxies", "oracle_hosts", mode="before")
    @classmethod
    def _proxy_list(cls, value: object) -> object:
        """A JSON list as pydantic-settings reads lists, or the comma-separated form."""
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return json.loads(value)
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: list[str]) -> list[str]:
        """Fail at startup on a typo: uvicorn would take it for a host name nobody has."""
        for entry in value:
            try:
                ipaddress.ip_network(entry)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network (CIDR)") from None
        return value

    @model_validator(mode="after")
    def _real_secret_outside_development(self) -> Settings:
        problem = secret_key_problem(self.secret_key)
        if problem and self.environment != "development":
            raise ValueError(
                f"LABELLOOP_SECRET_KEY {problem}; set a random value ({GENERATE_HINT}), "
                "or unset it to generate one into the data directory"
            )
        return self

    @property
    def https(self) -> bool:
        """Whether users reach the site over HTTPS (an https ``public_url``)."""
        return self.public_url is not None and self.public_url.scheme == "https"

    @cached_property
    def sqlalchemy_url(self) -> str:
        """The database URL in use: the configured one or the SQLite file under ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'labelloop.db'}"

    def project_dir(self, project_id: int) -> Path:
        """Directory holding one project's model files and feature caches."""
        return self.data_dir / "projects" / str(project_id)
