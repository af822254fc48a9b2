"""FastAPI dependencies: settings, database sessions (the request owns the transaction), auth."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Annotated, TypeVar

import anyio
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from app.audit.service import Actor
from app.config import Settings
from app.db import Database, WriteLockBusy, no_wait
from app.errors import AppError, Forbidden, Unauthorized
from app.models import User
from app.routing import pre_body
from app.users import tokens as users_tokens
from app.web.ratelimit import LoginLimiter

T = TypeVar("T")
bearer = HTTPBearer(auto_error=False, description="API token from `labelloop user add`.")


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Commit when the route returns, roll back if it raises."""
    with factory() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


DatabaseDep = Annotated[Database, Depends(get_database)]


def read_session(db: DatabaseDep) -> Iterator[Session]:
    yield from _session_scope(db.reader)


# Commits and rollbacks get threads of their own, so a transaction never queues for the
# request threadpool behind requests that wait for its locks.
_FINISH = anyio.CapacityLimiter(64)
POSTGRES_WRITE_SLOTS = 2  # more only adds lock waits and GIL contention (bench/load.py)


def write_slots(db: Database) -> anyio.Semaphore:
    """Write transactions a web process runs at once: one on SQLite, a few on PostgreSQL.

    Made once per process, on its event loop (``app.main``'s lifespan). Waiting for a slot
    happens on the event loop, not on a threadpool thread: were 40 routes (the threadpool)
    all blocked on SQLite's write lock or the connection pool, the lock holder could not
    get the thread it needs to validate its response, and every request would stall until
    ``busy_timeout``. One slot on SQLite also makes writers of a process take turns in
    order instead of polling the lock; on PostgreSQL, where every label write updates its
    project's counter row, more than a few only queue on that row lock while their threads
    fight for the GIL (bench/README.md, `load.py`: two slots carried the most labels).
    """
    return anyio.Semaphore(_slot_count(db))


def thread_slots(db: Database) -> threading.BoundedSemaphore:
    """The write slots of :class:`Writing`: as many as :func:`write_slots`, held by a worker
    thread (made once per process, in ``app.main``'s lifespan)."""
    return threading.BoundedSemaphore(_slot_count(db))


def _slot_count(db: Database) -> int:
    return 1 if db.is_sqlite else POSTGRES_WRITE_SLOTS


# Threads of Writing.run: their own, so threads waiting for a thread write slot never take
# the request threadpool that a slow write route may need before it commits and lets
# SQLite's write lock go (the deadlock ``write_slots`` is about).
_WRITERS = anyio.CapacityLimiter(64)


class Writing:
    """A write transaction run whole in one call, for the busiest routes (queue, labels).

    ``await writing.run(work)`` calls ``work(session)`` holding one of the process's thread
    write slots only while ``work`` runs and its transaction commits (or rolls back, if it
    raised), then closes the session. With ``inline`` (SQLite, commits that do not wait for
    the disk) it first tries on the event loop itself: if the slot is free and no other
    connection holds the database's write lock, the transaction runs there, with no thread
    hop. A hop wakes a thread and the loop again, each waiting for the GIL: sampled with one
    sequential client, handing the work to a thread and back was about a fifth of the
    server's time (bench/README.md, `load.py`). A held slot or lock never blocks the loop:
    ``BEGIN IMMEDIATE`` tries once (``app.db.no_wait``) and the transaction runs on a worker
    thread instead, which waits. So ``work`` must write nothing before its first statement:
    it may be called again. Not a slot of :func:`write_slots`: taken on the loop and held
    across two thread hops, it kept the writers behind a request waiting while its thread
    waited for the GIL and the loop for its turn. Routes using this never hold the other
    slots; they take turns with those routes' transactions at the database's own lock.
    """

    def __init__(
        self, session: Session, slots: threading.BoundedSemaphore, *, inline: bool = False
    ) -> None:
        self._session = session
        self._slots = slots
        self._inline = inline

    async def run(self, work: Callable[[Session], T]) -> T:
        if self._inline and self._slots.acquire(blocking=False):
            try:
                with no_wait():
                    return self._transaction(work)
            except WriteLockBusy:
                pass  # another connection writes: wait for it on a worker thread
            finally:
                self._slots.release()
        return await anyio.to_thread.run_sync(self._run, work, limiter=_WRITERS)

    def _run(self, work: Callable[[Session], T]) -> T:
        with self._slots:
            return self._transaction(work)

    def _transaction(self, work: Callable[[Session], T]) -> T:
        try:
            result = work(self._session)
        except BaseException:
            _finish(self._session, commit=False)
            raise
        _finish(self._session, commit=True)
        return result


async def writing(request: Request) -> Writing:
    """A :class:`Writing` whose transaction takes the write lock at BEGIN on SQLite; run
    on the event loop when it can be, unless every commit waits for the disk
    (``LABELLOOP_SQLITE_SYNCHRONOUS=full``: the loop would wait with it).

    The database comes from the app's state, not from ``DatabaseDep``: on the busiest
    routes every dependency FastAPI solves costs the event loop (bench/README.md,
    `load.py`)."""
    db: Database = request.app.state.db
    settings: Settings = request.app.state.settings
    inline = db.is_sqlite and settings.sqlite_synchronous == "normal"
    return Writing(db.writer(), request.app.state.thread_slots, inline=inline)


async def lease_writing(request: Request) -> Writing:
    """A :class:`Writing` for routes that write only leases: see ``Database.soft_writer``
    (on SQLite their commits never wait for the disk)."""
    db: Database = request.app.state.db
    return Writing(db.soft_writer(), request.app.state.thread_slots, inline=db.is_sqlite)


def _finish(session: Session, *, commit: bool) -> None:
    """Commit (or roll back) and close, in the call that ran the work."""
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


async def write_session(request: Request, db: DatabaseDep) -> AsyncIterator[Session]:
    """A session that takes the write lock at BEGIN on SQLite (see ``app.db``).

    It commits when the route returns (after response validation, before the response is
    sent) and rolls back if it raises, holding one of the process's write slots throughout.
    The busiest routes (queue, annotations) commit themselves just before they return: their
    locks (SQLite's write lock, PostgreSQL's row locks on the project's counters) are then
    not held while FastAPI validates the response on another thread, and the commit here
    has nothing left to do.
    """
    async with _in_write_slot(request, db.writer) as session:
        yield session


async def lease_session(request: Request, db: DatabaseDep) -> AsyncIterator[Session]:
    """A write session for routes that write only leases: see ``Database.soft_writer``."""
    async with _in_write_slot(request, db.soft_writer) as session:
        yield session


@asynccontextmanager
async def _in_write_slot(
    request: Request, factory: sessionmaker[Session]
) -> AsyncIterator[Session]:
    """A session of ``factory`` in one of the process's write slots: committed (unless the
    route did) and closed on the way out, rolled back if the route raised (unless its error
    ``keeps_writes``)."""
    async with request.app.state.write_slots:
        session = factory()
        try:
            yield session
        except BaseException as exc:
            keep = isinstance(exc, AppError) and exc.keeps_writes  # a refusal's audit event
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(
                    partial(_finish, session, commit=keep), limiter=_FINISH
                )
            raise
        if session.in_transaction():
            await anyio.to_thread.run_sync(partial(_finish, session, commit=True), limiter=_FINISH)
        else:  # the route committed: closing holds no connection, so no thread hop for it
            session.close()


SettingsDep = Annotated[Settings, Depends(get_settings)]
# scope="function": the transaction commits before the response is sent, so a 2xx is only
# ever sent for work that is durably in the database (the default would commit after it).
ReadSession = Annotated[Session, Depends(read_session, scope="function")]
WriteSession = Annotated[Session, Depends(write_session, scope="function")]
LeaseSession = Annotated[Session, Depends(lease_session, scope="function")]
WritingDep = Annotated[Writing, Depends(writing)]
LeaseWriting = Annotated[Writing, Depends(lease_writing)]


def _token_user(db: Database, authorization: str | None) -> users_tokens.TokenUse:
    """The valid token's user (401 otherwise)."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing bearer token: send 'Authorization: Bearer <token>'")
    with db.lookups.open() as lookup:
        use = users_tokens.use_token(lookup, token.strip())
    if use is None:
        raise Unauthorized("invalid, expired or revoked API token")
    return use


def identify(request: Request) -> None:
    """Pre-body check of every API route: resolve the bearer token's user once (a plain
    function: ``app.routing`` runs it with the project role's look-up, on a worker thread or,
    on SQLite, on the event loop)."""
    if getattr(request.state, "user", None) is not None:
        return
    use = _token_user(request.app.state.db, request.headers.get("authorization"))
    request.state.user = use.user
    request.state.token_id = use.token_id


def _identify_admin(request: Request) -> None:
    identify(request)
    if not request.state.user.is_admin:
        raise Forbidden("this action needs the admin role")


@pre_body(identify)
async def current_user(
    request: Request,
    _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    """The user whose bearer token authorises this request (401 otherwise).

    Resolved before the body is read (``app.routing``); this returns what was found, on the
    event loop (a plain dependency would cost a thread hop for an attribute read).
    """
    if getattr(request.state, "user", None) is None:  # only outside a GuardedRoute
        await anyio.to_thread.run_sync(identify, request)
    user: User = request.state.user
    return user


@pre_body(_identify_admin)
async def admin_user(user: Annotated[User, Depends(current_user)]) -> User:
    if not user.is_admin:
        raise Forbidden("this action needs the admin role")
    return user


CurrentUser = Annotated[User, Depends(current_user)]
AdminUser = Annotated[User, Depends(admin_user)]


def request_actor(request: Request) -> Actor:
    """Who acts in this request, for the audit log: the caller the identity check kept on
    ``request.state.user`` (API token or web session; None if anonymous) and their address."""
    user = getattr(request.state, "user", None)
    return Actor(user=user, address=request.client.host if request.client else None)


ActorDep = Annotated[Actor, Depends(request_actor)]


def login_lockout(request: Request) -> LoginLimiter:
    """The app's sign-in lockout, which every password check shares (``app.users.lockout``)."""
    limiter: LoginLimiter = request.app.state.login_limiter
    return limiter


LockoutDep = Annotated[LoginLimiter, Depends(login_lockout)]
