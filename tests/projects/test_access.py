"""Every project route takes its project from one dependency of ``app.projects.access``: the
one place the per-project membership check is made."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import RouteContext, iter_route_contexts

from app.config import Settings
from app.deps import lease_session, read_session, write_session
from app.main import create_app
from app.projects.access import project_resolvers

SESSIONS = {read_session, write_session, lease_session}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    data_dir: Path = tmp_path_factory.mktemp("data")
    return create_app(Settings(database_url="sqlite://", data_dir=data_dir), worker=False)


def _project_routes(app: FastAPI) -> list[RouteContext]:
    """Every route with ``{project_id}`` in its path, API and screens (included routers too)."""
    return [r for r in iter_route_contexts(app.routes) if "{project_id}" in (r.path or "")]


def _sessions(dependant: Dependant) -> set[object]:
    return {d.call for d in dependant.dependencies if d.call in SESSIONS}


def test_every_project_route_resolves_its_project_through_one_dependency(app: FastAPI) -> None:
    routes = _project_routes(app)
    assert len(routes) >= 30  # the API's and the screens'
    wrong = [
        f"{sorted(route.methods or ())} {route.path}"
        for route in routes
        if len(project_resolvers(route.dependant)) != 1
    ]
    assert not wrong, f"not through exactly one project dependency: {wrong}"


def test_the_project_is_loaded_in_the_routes_own_session(app: FastAPI) -> None:
    """A loader in another session than the route's would open a second transaction."""
    for route in _project_routes(app):
        for dep in route.dependant.dependencies:
            if dep.call not in project_resolvers(route.dependant):
                continue
            own, loaders = _sessions(route.dependant), _sessions(dep)
            assert not own or own == loaders or not loaders, f"{route.path}: {own} != {loaders}"
