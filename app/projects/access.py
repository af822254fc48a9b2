"""Which project a route acts on: every route with ``{project_id}`` in its path takes it from
a dependency made here, the one place that resolves (caller, project) for a route, where a
per-project membership check goes (``tests/projects/test_access.py`` checks every route).

A missing project is a 404 (``project N not found``). The caller is resolved before the
session is opened, so identity is settled outside the write slot (see ``app.deps``).
"""

# No ``from __future__ import annotations``: the dependencies made below are annotated with
# the types their factory was given, which FastAPI reads from the function objects.

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends
from fastapi.dependencies.models import Dependant

from app.deps import CurrentUser, ReadSession, WriteSession
from app.fields import PathId
from app.models import Project
from app.projects.service import ProjectRef, get_project

_MARK = "__resolves_project__"


def _resolver(dependency: Callable[..., Any]) -> Callable[..., Any]:
    setattr(dependency, _MARK, True)
    return dependency


def project_loader(caller: Any, session_type: Any) -> Callable[..., Project]:
    """A dependency returning the route's project, loaded in the route's own session.

    ``caller`` is the ``Annotated`` type of the caller (API token or web session);
    ``session_type`` the route's session alias (``ReadSession``...): FastAPI caches it per
    request, so the route that also asks for it gets the same session.
    """

    def load_project(project_id: PathId, user: caller, session: session_type) -> Project:
        return get_project(session, project_id)

    return _resolver(load_project)


def project_ref(caller: Any) -> Callable[..., ProjectRef]:
    """A dependency returning the route's project by id alone: no query, no session.

    For the hot queue and label routes, whose services check the project in their own
    queries, and for uploads, which copy the file before their write session begins. A
    membership check here would be a lookup of its own, outside the write slot.
    """

    def load_project_ref(project_id: PathId, user: caller) -> ProjectRef:
        return ProjectRef(project_id)

    return _resolver(load_project_ref)


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


# The API's project routes: the project in the route's read or write session, or its id.
ReadProject = Annotated[Project, Depends(project_loader(CurrentUser, ReadSession))]
WriteProject = Annotated[Project, Depends(project_loader(CurrentUser, WriteSession))]
ProjectRefDep = Annotated[ProjectRef, Depends(project_ref(CurrentUser))]
