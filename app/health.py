"""``GET /health`` for load balancers: the database answers, and which web process replied.

``instance`` is a random id drawn once per web process (not its PID), so a client or a test
can tell the processes behind one address apart without learning anything about the host.
"""

from __future__ import annotations

import secrets

from fastapi import APIRouter
from sqlalchemy import text

from app.deps import DatabaseDep
from app.routing import GuardedRoute

router = APIRouter(route_class=GuardedRoute)
INSTANCE = secrets.token_hex(6)  # one per process: uvicorn workers import this afresh


@router.get("/health")
def health(db: DatabaseDep) -> dict[str, str]:
    """200 with ``{"status": "ok", "instance"}`` when the database answers (500 otherwise)."""
    with db.reader() as session:
        session.execute(text("SELECT 1"))
    return {"status": "ok", "instance": INSTANCE}
