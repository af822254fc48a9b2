"""Helpers for the security battery: tokens, a signed-in browser client, database snapshots."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.db import Database
from app.models import Annotation, Item, Project
from app.users.service import create_user as create_user_with_password
from tests.factories import create_user


@dataclass(frozen=True)
class Snapshot:
    """What an upload may change: rows and the per-project counters."""

    items: int
    annotations: int
    label_events: int
    pool_version: int


def snapshot(db: Database) -> Snapshot:
    with db.reader() as session:
        return Snapshot(
            items=session.scalar(select(func.count()).select_from(Item)) or 0,
            annotations=session.scalar(select(func.count()).select_from(Annotation)) or 0,
            label_events=session.scalar(select(func.sum(Project.label_events))) or 0,
            pool_version=session.scalar(select(func.sum(Project.pool_version))) or 0,
        )


def csrf(client: TestClient, path: str = "/login") -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert match, f"{path} should carry a CSRF token"
    return match.group(1)


def sign_in(client: TestClient, db: Database, name: str = "ada", role: str = "admin") -> str:
    """Create ``name`` with a password, sign in; returns the session's CSRF token."""
    with db.writer() as session, session.begin():
        create_user_with_password(session, name=name, role=role, password=f"{name}-password")
    response = client.post(
        "/login",
        data={"username": name, "password": f"{name}-password", "csrf_token": csrf(client)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return csrf(client, "/")


@pytest.fixture
def admin(db: Database) -> str:
    """An admin's API token."""
    return create_user(db)[1]
