"""Helpers of the import tests: upload a file through the API, read what the database holds."""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.db import Database
from app.models import Annotation, Item, Project
from tests.factories import auth


def upload(
    client: TestClient, pid: int, token: str, name: str, data: bytes, **form: str
) -> httpx.Response:
    """POST ``data`` as the multipart file ``name`` to the project's imports, with ``form``."""
    return client.post(
        f"/api/v1/projects/{pid}/imports",
        files={"file": (name, data, "application/octet-stream")},
        data=form,
        headers=auth(token),
    )


def state(db: Database) -> tuple[int, int, int]:
    """Items, annotations and label events in the database: what a refused import must keep."""
    with db.reader() as session:
        return (
            session.scalar(select(func.count()).select_from(Item)) or 0,
            session.scalar(select(func.count()).select_from(Annotation)) or 0,
            session.scalar(select(func.sum(Project.label_events))) or 0,
        )
