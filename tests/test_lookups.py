"""The per-request look-ups run on the DBAPI connection with SQLAlchemy's own SQL and types."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import bindparam, event, literal_column, select, text, update
from sqlalchemy.exc import DBAPIError

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.models import ApiToken, User
from app.models.base import utcnow
from tests.factories import auth, create_project, create_user

_tokens = ApiToken.__table__


def test_rows_and_parameters_have_the_column_types_sqlalchemy_gives(db: Database) -> None:
    user, _ = create_user(db, name="ann", role="annotator")
    used = utcnow() - timedelta(hours=1)
    with db.writer() as session, session.begin():
        session.execute(update(ApiToken).values(last_used_at=used))
    statement = select(_tokens.c.id.label("token_id"), _tokens.c.last_used_at, User.created_at)
    statement = statement.join(User, User.id == _tokens.c.user_id)
    since = statement.where(_tokens.c.last_used_at < bindparam("t"))
    with db.engine.connect() as conn:
        expected = conn.execute(statement).one()._asdict()
    with db.lookups.open() as lookup:
        found = lookup.first(statement, {})
        assert lookup.first(since, {"t": used}) is None  # a datetime parameter, converted
        assert lookup.first(since, {"t": used + timedelta(seconds=1)}) == expected
    assert found == expected
    assert found["last_used_at"] == used  # a datetime again, as its column type says
    assert found["created_at"] == user.created_at


def test_a_missing_row_is_none_and_a_scalar_is_its_first_column(db: Database) -> None:
    user, _ = create_user(db, name="ann", role="annotator")
    by_user = select(User.name).where(User.id == bindparam("u"))
    with db.lookups.open() as lookup:
        assert lookup.scalar(by_user, {"u": user.id}) == "ann"
        assert lookup.scalar(by_user, {"u": user.id + 1000}) is None
        assert lookup.first(by_user, {"u": user.id + 1000}) is None


def test_a_database_error_is_sqlalchemys_and_ends_the_transaction(db: Database) -> None:
    missing = select(text("x")).select_from(text("no_such_table"))
    with pytest.raises(DBAPIError, match="no_such_table"), db.lookups.open() as lookup:
        lookup.first(missing, {})
    with db.lookups.open() as lookup:  # the pooled connection is usable again
        assert lookup.scalar(select(literal_column("1").label("one")), {}) == 1


def test_a_request_looks_up_its_token_and_role_without_sqlalchemys_execution(
    settings: Settings, db: Database
) -> None:
    # Through a pooled Connection each look-up cost 120-200 µs of the event loop on SQLite,
    # most of a request's pre-body time (bench/README.md, `load.py`).
    project = create_project(db, labels=["a", "b"], n_items=3)
    _, token = create_user(db, name="ann", role="annotator")
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:  # noqa: ANN401
        seen.append(statement)

    with TestClient(create_app(settings, worker=False)) as client:
        engine = client.app.state.db.engine  # type: ignore[attr-defined]
        event.listen(engine, "before_cursor_execute", record)
        served = client.get(f"/api/v1/projects/{project.id}/queue?limit=1", headers=auth(token))
        event.remove(engine, "before_cursor_execute", record)
    assert served.status_code == 200, served.text
    assert seen, "the queue's own statements run through SQLAlchemy"
    assert not [s for s in seen if "api_tokens" in s or "project_members" in s], seen


def test_sqlite_keeps_one_connection_for_them_and_a_second_caller_takes_the_pools(
    db: Database,
) -> None:
    if not db.is_sqlite:
        pytest.skip("PostgreSQL's look-ups take pooled connections")
    checkouts: list[object] = []
    event.listen(db.engine, "checkout", lambda *args: checkouts.append(args))
    one = select(literal_column("1").label("one"))
    for _ in range(3):
        with db.lookups.open() as lookup:
            assert lookup.scalar(one, {}) == 1
    assert len(checkouts) == 1  # the kept connection, made once
    with db.lookups.open() as outer, db.lookups.open() as inner:  # the kept one is in use
        assert (outer.scalar(one, {}), inner.scalar(one, {})) == (1, 1)
    assert len(checkouts) == 2
    db.lookups.close()
    with db.lookups.open() as lookup:  # made again after a close
        assert lookup.scalar(one, {}) == 1
    assert len(checkouts) == 3
