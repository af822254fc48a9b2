"""FastAPI dependencies: settings, database sessions (the request owns the transaction), auth."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import Database
from app.errors import Forbidden, Unauthorized
from app.models import User
from app.users import service as users

bearer = HTTPBearer(auto_error=False, description="API token from `labelloop user add`.")


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_database(request: Request) -> Database:
    return request.app.state.db


def _session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Commit when the route returns, roll back if it raises."""
    with factory() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def read_session(db: Annotated[Database, Depends(get_database)]) -> Iterator[Session]:
    yield from _session_scope(db.reader)


def write_session(db: Annotated[Database, Depends(get_database)]) -> Iterator[Session]:
    """A session that takes the write lock at BEGIN on SQLite (see ``app.db``)."""
    yield from _session_scope(db.writer)


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
# scope="function": the transaction commits before the response is sent, so a 2xx is only
# ever sent for work that is durably in the database (the default would commit after it).
ReadSession = Annotated[Session, Depends(read_session, scope="function")]
WriteSession = Annotated[Session, Depends(write_session, scope="function")]


def current_user(
    db: DatabaseDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    """The user whose bearer token authorises this request (401 otherwise)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("missing bearer token: send 'Authorization: Bearer <token>'")
    with db.reader() as session:
        user = users.user_for_token(session, credentials.credentials)
        if user is None:
            raise Unauthorized("invalid API token")
        session.expunge(user)
    return user


def admin_user(user: Annotated[User, Depends(current_user)]) -> User:
    if not user.is_admin:
        raise Forbidden("this action needs the admin role")
    return user


CurrentUser = Annotated[User, Depends(current_user)]
AdminUser = Annotated[User, Depends(admin_user)]
