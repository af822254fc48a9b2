"""Which project a route acts on, and whether the caller may: every route with
``{project_id}`` in its path takes it from a dependency made here, the one place that
resolves (caller, project) for a route (``tests/projects/test_access.py`` checks every route).

The caller's place in the project is settled before the body is read (a pre-body check,
``app.routing``), outside the write slot, by one lookup on the membership table's unique
index: a non-member gets the 404 of a missing project (no existence leak), a member below
the route's least role a 403. Instance admins pass everywhere without a lookup.
"""

# No ``from __future__ import annotations``: the dependencies made below are annotated with
# the types their factory was given, which FastAPI reads from the function objects.

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import anyio
from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.orm import Session

from app.db import Database
from app.deps import CurrentUser, ReadSession, WriteSession, bearer, identify
from app.fields import MAX_ID, PathId
from app.models import Project, ProjectRole, User
from app.projects import members
from app.projects.service import ProjectRef, get_project
from app.ratelimits import Category, rate_check
from app.routing import PreBodyCheck, pre_body

_MARK = "__resolves_project__"
MEMBER, REVIEWER, MANAGER = ProjectRole.ANNOTATOR, ProjectRole.REVIEWER, ProjectRole.MANAGER


def _path_project_id(request: Request) -> int | None:
    """The path's project id, None if it is not one (the route's validation answers 422)."""
    raw = str(request.path_params.get("project_id", ""))
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_ID:
        return None
    return int(raw)


def _lookup(db: Database, project_id: int, user: User) -> ProjectRole:
    if user.is_admin:
        return ProjectRole.MANAGER
    with db.lookups.open() as lookup:
        return members.effective_role(lookup, project_id, user)


def _membership_check(least: ProjectRole) -> PreBodyCheck:
    def check(request: Request) -> None:
        """Runs after the caller's own check (a sub-dependency, so found first), where it
        runs (a plain function: on the same worker thread, or on SQLite on the event loop;
        ``app.routing``)."""
        project_id = _path_project_id(request)
        if project_id is None:
            return
        role = _lookup(request.app.state.db, project_id, request.state.user)
        members.require(role, least)
        request.state.project_access = (project_id, role)

    return check


def _checked(request: Request, project_id: int) -> bool:
    found = getattr(request.state, "project_access", None)
    return found is not None and found[0] == project_id


def caller_role(request: Request, session: Session | None, project_id: int) -> ProjectRole:
    """The role the pre-body check found, or (outside a GuardedRoute) looked up now."""
    if _checked(request, project_id):
        return ProjectRole(request.state.project_access[1])
    user: User = request.state.user
    if session is None:
        return _lookup(request.app.state.db, project_id, user)
    return members.effective_role(session, project_id, user)


def _resolver(dependency: Callable[..., Any], least: ProjectRole) -> Callable[..., Any]:
    setattr(dependency, _MARK, True)
    return pre_body(_membership_check(least))(dependency)


def project_loader(
    caller: Any, session_type: Any, *, least: ProjectRole = MEMBER
) -> Callable[..., Project]:
    """A dependency returning the route's project, loaded in the route's own session, for a
    caller who is at least ``least`` in it.

    ``caller`` is the ``Annotated`` type of the caller (API token or web session);
    ``session_type`` the route's session alias (``ReadSession``...): FastAPI caches it per
    request, so the route that also asks for it gets the same session.
    """

    def load_project(
        request: Request, project_id: PathId, user: caller, session: session_type
    ) -> Project:
        members.require(caller_role(request, session, project_id), least)
        return get_project(session, project_id)

    return _resolver(load_project, least)


def project_ref(caller: Any, *, least: ProjectRole = MEMBER) -> Callable[..., ProjectRef]:
    """A dependency returning the route's project by id alone: no session of the route's.

    For the hot queue and label routes, whose services check the project in their own
    queries, and for uploads, which copy the file before their write session begins. The
    membership lookup is the pre-body check's, outside the write slot.
    """

    async def load_project_ref(request: Request, project_id: PathId, user: caller) -> ProjectRef:
        """On the event loop: the pre-body check found the role (no thread hop for that)."""
        if _checked(request, project_id):
            role = caller_role(request, None, project_id)
        else:  # outside a GuardedRoute
            role = await anyio.to_thread.run_sync(caller_role, request, None, project_id)
        members.require(role, least)
        return ProjectRef(project_id)

    return _resolver(load_project_ref, least)


@dataclass(frozen=True, slots=True)
class ProjectCaller:
    """The caller of a project route and the route's project, by id."""

    user: User
    project: ProjectRef


def project_caller(category: Category, *, least: ProjectRole = MEMBER) -> Callable[..., Any]:
    """One dependency for the busiest routes (the queue, labels): the API caller, counted in
    ``category``'s rate limit, and their project (``project_ref``'s).

    ``CurrentUser``, ``rate_limited`` and ``ProjectRefDep`` side by side are three
    dependencies that each depend on the caller, and FastAPI solves a dependency's whole
    subtree again at every reference before it looks in its cache: eight nodes on every
    request of the event loop, against two here (bench/README.md, `load.py`). The checks are
    theirs, in their order: identity, rate limit, project role.
    """
    membership = _membership_check(least)
    limit = rate_check(category)

    def check(request: Request) -> None:
        identify(request)
        limit(request)
        membership(request)

    async def load_caller(
        request: Request,
        project_id: PathId,
        _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> ProjectCaller:
        if not _checked(request, project_id):  # outside a GuardedRoute
            await anyio.to_thread.run_sync(check, request)
        return ProjectCaller(request.state.user, ProjectRef(project_id))

    setattr(load_caller, _MARK, True)
    return pre_body(check)(load_caller)


def project_role(request: Request, project_id: PathId) -> ProjectRole:
    """The caller's role in the route's project (an instance admin: manager), as the
    route's project dependency found it; for services that show members different rows."""
    return caller_role(request, None, project_id)


def project_resolvers(dependant: Dependant) -> list[Callable[..., Any]]:
    """The project dependencies in ``dependant``'s tree (one for every project route)."""
    found: list[Callable[..., Any]] = []

    def walk(node: Dependant) -> None:
        for sub in node.dependencies:
            walk(sub)
        call = node.call
        if call is not None and getattr(call, _MARK, False) and call not in found:
            found.append(call)

    walk(dependant)
    return found


# The API's project routes: the project in the route's read or write session, or its id;
# the ``Managed`` ones for the project's managers (and instance admins) only.
ReadProject = Annotated[Project, Depends(project_loader(CurrentUser, ReadSession))]
WriteProject = Annotated[Project, Depends(project_loader(CurrentUser, WriteSession))]
ProjectRefDep = Annotated[ProjectRef, Depends(project_ref(CurrentUser))]
QueueCaller = Annotated[ProjectCaller, Depends(project_caller("queue"))]
LabelCaller = Annotated[ProjectCaller, Depends(project_caller("label"))]
# The review queue's: reviewers, managers and instance admins.
ReviewReadProject = Annotated[
    Project, Depends(project_loader(CurrentUser, ReadSession, least=REVIEWER))
]
ReviewProject = Annotated[
    Project, Depends(project_loader(CurrentUser, WriteSession, least=REVIEWER))
]
ManagedReadProject = Annotated[
    Project, Depends(project_loader(CurrentUser, ReadSession, least=MANAGER))
]
ManagedProject = Annotated[
    Project, Depends(project_loader(CurrentUser, WriteSession, least=MANAGER))
]
ManagedProjectRef = Annotated[ProjectRef, Depends(project_ref(CurrentUser, least=MANAGER))]
ProjectRoleDep = Annotated[ProjectRole, Depends(project_role)]
