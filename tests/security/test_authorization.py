"""R8: the authorisation matrix. Every registered route, called as anonymous, annotator and admin.

``ROUTES`` names the least role each route needs; a route the app registers that is neither
there nor in ``PUBLIC`` (docs, schema, static files) fails ``test_every_route_is_classified``,
so a new route cannot ship unclassified. There are no per-project roles (every annotator may
work on every project), so there is no cross-project case to test yet.
"""

from __future__ import annotations

import itertools
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select, update

from app.annotations.service import submit
from app.config import Settings
from app.db import Database, open_database
from app.main import create_app
from app.models import Annotation, ImportJob, ImportStatus, Item, Project, User
from app.models.base import Base
from app.scheduler.worker import Worker
from app.training import service as training
from app.users import service as users
from app.users import tokens
from tests.conftest import BACKENDS, fresh_database
from tests.factories import auth, create_project

ANONYMOUS, ANNOTATOR, ADMIN = "anonymous", "annotator", "admin"
ROLES = (ANONYMOUS, ANNOTATOR, ADMIN)
RANK = {ANONYMOUS: 0, ANNOTATOR: 1, ADMIN: 2}
SESSION_COOKIE = "labelloop_session"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class World:
    """One app and its data per backend; each role has an API token and a browser session."""

    client: TestClient
    db: Database
    settings: Settings
    project_id: int
    item_ids: list[int]  # unlabelled items of the project
    victim_id: int  # a user whose password admins reset
    job_id: int  # a finished import job of the project
    tokens: dict[str, str] = field(default_factory=dict)  # role -> API token
    cookies: dict[str, str] = field(default_factory=dict)  # role -> session cookie
    csrf: dict[str, str] = field(default_factory=dict)  # role -> that session's CSRF token
    serial: Iterator[int] = field(default_factory=itertools.count)

    def path_values(self) -> dict[str, object]:
        return {
            "project_id": self.project_id,
            "item_id": self.item_ids[0],
            "user_id": self.victim_id,
            "job_id": self.job_id,
            "token_id": 1,  # the first user's first token: refused calls never reach it
            "action": "disable",
            "fmt": "csv",
        }


Body = Callable[[World, str], dict[str, Any]]


def _nothing(world: World, role: str) -> dict[str, Any]:
    return {}


def _params(**params: object) -> Body:
    return lambda world, role: {"params": params}


def _new_project_json(world: World, role: str) -> dict[str, Any]:
    return {"json": {"name": f"api-{role}-{next(world.serial)}", "labels": ["a", "b"]}}


def _new_project_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"name": f"web-{role}-{next(world.serial)}", "labels": "a\nb"}}


def _patch_project(world: World, role: str) -> dict[str, Any]:
    return {"json": {"batch_size": 20 + RANK[role]}}  # a change, whoever sends it


def _settings_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"strategy": "entropy", "batch_size": str(30 + RANK[role])}}


def _rows(role: str, world: World) -> bytes:
    n = next(world.serial)
    return f'{{"text": "imported by {role}, file {n}", "label": "sports"}}\n'.encode()


def _upload(world: World, role: str) -> dict[str, Any]:
    return {"files": {"file": ("rows.jsonl", _rows(role, world), "application/json")}}


def _kept_upload(world: World, role: str) -> dict[str, Any]:
    """A file kept aside as the preview step would have kept it."""
    upload_id = f"{secrets.token_urlsafe(18)}.jsonl"
    uploads = world.settings.data_dir / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    (uploads / upload_id).write_bytes(_rows(role, world))
    return {"data": {"upload_id": upload_id, "text_field": "text", "label_field": "label"}}


def _label_json(world: World, role: str) -> dict[str, Any]:
    return {"json": {"item_id": world.item_ids[0], "label": "sports"}}


def _bulk_json(world: World, role: str) -> dict[str, Any]:
    return {"json": {"annotations": [{"item_id": world.item_ids[0], "label": "sports"}]}}


def _label_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"item_id": str(world.item_ids[0]), "label": "sports", "have": ""}}


def _relabel_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"label": "food"}}


def _skip_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"item_id": str(world.item_ids[1])}}


def _predict_json(world: World, role: str) -> dict[str, Any]:
    return {"json": {"texts": ["the striker scored a goal"]}}


def _credentials(world: World, role: str) -> dict[str, Any]:
    name = "web-annotator" if role == ANONYMOUS else f"web-{role}"
    return {"data": {"username": name, "password": f"{name}-password"}}


def _new_user_form(world: World, role: str) -> dict[str, Any]:
    name = f"made-by-{role}-{next(world.serial)}"
    return {"data": {"name": name, "password": "a-long-password", "role": "admin"}}


def _password_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"password": f"new-password-{next(world.serial)}"}}


def _new_user_json(world: World, role: str) -> dict[str, Any]:
    return {"json": {"name": f"api-made-by-{role}-{next(world.serial)}", "role": "annotator"}}


def _password_json(world: World, role: str) -> dict[str, Any]:
    return {"json": {"password": f"new-password-{next(world.serial)}"}}


def _own_password_json(world: World, role: str) -> dict[str, Any]:
    return {"json": {"current_password": "own-caller-password", "new_password": "a-new-password"}}


def _own_password_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"current_password": "own-caller-password", "new_password": "a-new-password"}}


def _mint_json(world: World, role: str) -> dict[str, Any]:
    return {"json": {"name": f"script-{next(world.serial)}", "password": f"api-{role}-password"}}


def _mint_form(world: World, role: str) -> dict[str, Any]:
    return {"data": {"name": f"script-{next(world.serial)}", "password": f"web-{role}-password"}}


def _role_json(world: World, role: str) -> dict[str, Any]:
    return {"json": {"role": "annotator"}}


def _throwaway(world: World) -> int:
    return _add_user(world.db, f"gone-{next(world.serial)}", ANNOTATOR, browser=False)[0]


def _throwaway_user(world: World, role: str) -> dict[str, object]:
    return {"user_id": _throwaway(world), "action": "disable"}


def _token_of(world: World, user_name: str | None, user_id: int | None = None) -> int:
    with world.db.writer() as session, session.begin():
        user = session.get_one(User, user_id) if user_id else users.get_by_name(session, user_name)
        assert user is not None
        return tokens.create_token(session, user, name="to revoke")[0].id


def _own_token(prefix: str) -> Fresh:
    return lambda world, role: {"token_id": _token_of(world, f"{prefix}-{role}")}


def _victim_token(world: World, role: str) -> dict[str, object]:
    user_id = _throwaway(world)
    return {"user_id": user_id, "token_id": _token_of(world, None, user_id)}


Fresh = Callable[[World, str], dict[str, object]]


def _no_fresh(world: World, role: str) -> dict[str, object]:
    return {}


@dataclass(frozen=True)
class Rule:
    """The least role a route needs, the status it answers when allowed, and a valid body.

    ``fresh`` makes what an allowed call uses up (a user to delete, a token to revoke) and
    returns the path values that name it; ``own_caller`` calls as a new user of the role,
    for routes that end their caller's sessions (sign-out, a password change).
    """

    role: str
    ok: int
    body: Body = _nothing
    fresh: Fresh = _no_fresh
    own_caller: bool = False


PROJECT = "/api/v1/projects/{project_id}"
ROUTES: dict[tuple[str, str], Rule] = {
    # JSON API: bearer token.
    ("POST", "/api/v1/projects"): Rule(ADMIN, 201, _new_project_json),
    ("GET", "/api/v1/projects"): Rule(ANNOTATOR, 200),
    ("GET", PROJECT): Rule(ANNOTATOR, 200),
    ("PATCH", PROJECT): Rule(ADMIN, 200, _patch_project),
    ("POST", f"{PROJECT}/imports"): Rule(ADMIN, 201, _upload),
    ("GET", f"{PROJECT}/imports/{{job_id}}"): Rule(ADMIN, 200),
    ("GET", f"{PROJECT}/export"): Rule(ANNOTATOR, 200, _params(format="jsonl")),
    ("GET", f"{PROJECT}/items"): Rule(ANNOTATOR, 200, _params(limit=5, status="unlabeled")),
    ("GET", f"{PROJECT}/queue"): Rule(ANNOTATOR, 200, _params(limit=2)),
    ("POST", f"{PROJECT}/annotations"): Rule(ANNOTATOR, 201, _label_json),
    ("POST", f"{PROJECT}/annotations/bulk"): Rule(ANNOTATOR, 200, _bulk_json),
    ("GET", f"{PROJECT}/model"): Rule(ANNOTATOR, 200),
    ("POST", f"{PROJECT}/predict"): Rule(ANNOTATOR, 200, _predict_json),
    ("POST", f"{PROJECT}/train"): Rule(ADMIN, 202),
    ("GET", f"{PROJECT}/runs"): Rule(ANNOTATOR, 200),
    ("GET", f"{PROJECT}/items/{{item_id}}/history"): Rule(ANNOTATOR, 200),
    ("GET", f"{PROJECT}/agreement"): Rule(ANNOTATOR, 200),
    ("GET", "/api/v1/me"): Rule(ANNOTATOR, 200),
    ("POST", "/api/v1/me/password"): Rule(ANNOTATOR, 204, _own_password_json, own_caller=True),
    ("GET", "/api/v1/me/tokens"): Rule(ANNOTATOR, 200),
    ("POST", "/api/v1/me/tokens"): Rule(ANNOTATOR, 201, _mint_json),
    ("DELETE", "/api/v1/me/tokens/{token_id}"): Rule(ANNOTATOR, 204, fresh=_own_token("api")),
    ("GET", "/api/v1/users"): Rule(ADMIN, 200),
    ("POST", "/api/v1/users"): Rule(ADMIN, 201, _new_user_json),
    ("PATCH", "/api/v1/users/{user_id}"): Rule(ADMIN, 200, _role_json),
    ("POST", "/api/v1/users/{user_id}/password"): Rule(ADMIN, 204, _password_json),
    ("DELETE", "/api/v1/users/{user_id}"): Rule(ADMIN, 204, fresh=_throwaway_user),
    ("GET", "/api/v1/users/{user_id}/tokens"): Rule(ADMIN, 200),
    ("DELETE", "/api/v1/users/{user_id}/tokens/{token_id}"): Rule(ADMIN, 204, fresh=_victim_token),
    ("GET", "/api/v1/audit"): Rule(ADMIN, 200),
    # Browser: session cookie, and the session's CSRF token on every POST.
    ("GET", "/login"): Rule(ANONYMOUS, 200),
    ("POST", "/login"): Rule(ANONYMOUS, 303, _credentials),
    ("POST", "/logout"): Rule(ANONYMOUS, 303, own_caller=True),
    ("GET", "/"): Rule(ANNOTATOR, 200),
    ("GET", "/projects/new"): Rule(ADMIN, 200),
    ("POST", "/projects"): Rule(ADMIN, 303, _new_project_form),
    ("GET", "/projects/{project_id}"): Rule(ANNOTATOR, 200),
    ("GET", "/projects/{project_id}/live"): Rule(ANNOTATOR, 200),
    ("POST", "/projects/{project_id}/train"): Rule(ADMIN, 200),
    ("POST", "/projects/{project_id}/settings"): Rule(ADMIN, 200, _settings_form),
    ("GET", "/projects/{project_id}/export.{fmt}"): Rule(ANNOTATOR, 200),
    ("GET", "/projects/{project_id}/items"): Rule(ANNOTATOR, 200),
    ("GET", "/projects/{project_id}/items/more"): Rule(ANNOTATOR, 200, _params(after=1)),
    ("GET", "/projects/{project_id}/items/{item_id}/history"): Rule(ANNOTATOR, 200),
    ("GET", "/projects/{project_id}/import"): Rule(ADMIN, 200),
    ("POST", "/projects/{project_id}/import/preview"): Rule(ADMIN, 200, _upload),
    ("POST", "/projects/{project_id}/import"): Rule(ADMIN, 200, _kept_upload),
    ("GET", "/projects/{project_id}/import/jobs/{job_id}"): Rule(ADMIN, 200),
    ("GET", "/projects/{project_id}/annotate"): Rule(ANNOTATOR, 200),
    ("POST", "/projects/{project_id}/annotate/submit"): Rule(ANNOTATOR, 200, _label_form),
    ("POST", "/projects/{project_id}/annotate/skip"): Rule(ANNOTATOR, 200, _skip_form),
    ("POST", "/projects/{project_id}/annotate/undo"): Rule(ANNOTATOR, 200),
    ("POST", "/projects/{project_id}/annotate/history/{item_id}"): Rule(
        ANNOTATOR, 200, _relabel_form
    ),
    ("GET", "/projects/{project_id}/annotate/progress"): Rule(ANNOTATOR, 200),
    ("GET", "/users"): Rule(ADMIN, 200),
    ("POST", "/users"): Rule(ADMIN, 200, _new_user_form),
    ("POST", "/users/{user_id}/password"): Rule(ADMIN, 200, _password_form),
    ("POST", "/users/{user_id}/{action}"): Rule(ADMIN, 200, fresh=_throwaway_user),
    ("GET", "/users/{user_id}/tokens"): Rule(ADMIN, 200),
    ("POST", "/users/{user_id}/tokens/{token_id}/revoke"): Rule(ADMIN, 200, fresh=_victim_token),
    ("GET", "/audit"): Rule(ADMIN, 200),
    ("GET", "/account"): Rule(ANNOTATOR, 200),
    ("POST", "/account/password"): Rule(ANNOTATOR, 200, _own_password_form, own_caller=True),
    ("POST", "/account/tokens"): Rule(ANNOTATOR, 200, _mint_form),
    ("POST", "/account/tokens/{token_id}/revoke"): Rule(ANNOTATOR, 200, fresh=_own_token("web")),
}
# Public by design (README: interactive docs at /docs, schema at /openapi.json): a URL to try.
PUBLIC: dict[tuple[str, str], str] = {
    ("GET", "/openapi.json"): "/openapi.json",
    ("GET", "/health"): "/health",  # for load balancers; says nothing about users or data
    ("GET", "/docs"): "/docs",
    ("GET", "/docs/oauth2-redirect"): "/docs/oauth2-redirect",
    ("GET", "/redoc"): "/redoc",
    ("MOUNT", "/static"): "/static/app.css",
}
WEB_POSTS = [key for key in ROUTES if key[0] == "POST" and not key[1].startswith("/api/")]


def _registered(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route, mounts as ("MOUNT", path); HEAD goes with GET."""
    found: set[tuple[str, str]] = set()
    for route in iter_route_contexts(app.routes):
        assert route.path is not None, f"a route without a path: {route.original_route!r}"
        methods = route.methods
        found |= (
            {(m, route.path) for m in methods - {"HEAD"}} if methods else {("MOUNT", route.path)}
        )
    return found


def _key_id(key: tuple[str, str]) -> str:
    return f"{key[0]} {key[1]}"


# --- the world: one app, database and set of users per backend -----------------------------


def _add_user(db: Database, name: str, role: str, *, browser: bool = True) -> tuple[int, str]:
    """A user with an API token and, for ``browser`` (argon2 is slow), a password."""
    password = f"{name}-password" if browser else None
    with db.writer() as session, session.begin():
        user, token = users.create_user(session, name=name, role=role, password=password)
        return user.id, token


def _page_csrf(client: TestClient, path: str) -> str:
    page = client.get(path, follow_redirects=False)
    token = CSRF_INPUT.search(page.text)
    assert page.status_code == 200 and token, f"{path} should carry a CSRF token"
    return token.group(1)


def _log_in(client: TestClient, name: str) -> str:
    """Sign ``name`` in through the form (``client`` keeps the cookie); returns the CSRF token."""
    form = {
        "username": name,
        "password": f"{name}-password",
        "csrf_token": _page_csrf(client, "/login"),
    }
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303
    return _page_csrf(client, "/account")


def _browser_session(client: TestClient, name: str | None) -> tuple[str, str]:
    """Sign ``name`` in (or stay anonymous); returns the session cookie and its CSRF token."""
    client.cookies.clear()
    csrf = _page_csrf(client, "/login") if name is None else _log_in(client, name)
    cookie = client.cookies.get(SESSION_COOKIE)
    assert cookie, "the app should have set a session cookie"
    client.cookies.clear()
    return cookie, csrf


def _train(db: Database, settings: Settings, project_id: int) -> None:
    with db.writer() as session, session.begin():
        training.queue_run(session, project_id, reason="manual")
    assert Worker(db, settings).run_once()
    with db.reader() as session:
        assert session.get_one(Project, project_id).current_model_id is not None


def _populate(client: TestClient, db: Database, settings: Settings) -> World:
    project = create_project(db, n_items=45, n_labeled=21)
    _train(db, settings, project.id)  # so predict answers 200
    with db.reader() as session:
        labelled = select(Annotation.item_id).where(Annotation.project_id == project.id)
        unlabelled = session.scalars(
            select(Item.id)
            .where(Item.project_id == project.id, Item.id.not_in(labelled))
            .order_by(Item.id)
        ).all()
    victim_id, _ = _add_user(db, "victim", ANNOTATOR, browser=False)
    job_id = _finished_job(db, project.id)
    world = World(client, db, settings, project.id, list(unlabelled), victim_id, job_id)
    for role in (ANNOTATOR, ADMIN):
        world.tokens[role] = _add_user(db, f"api-{role}", role)[1]
        _add_user(db, f"web-{role}", role)
        world.cookies[role], world.csrf[role] = _browser_session(client, f"web-{role}")
        _seed_label(world, role)  # so undo has something to withdraw
    world.cookies[ANONYMOUS], world.csrf[ANONYMOUS] = _browser_session(client, None)
    return world


def _finished_job(db: Database, project_id: int) -> int:
    """A succeeded import job, as a background import leaves it."""
    with db.writer() as session, session.begin():
        job = ImportJob(
            project_id=project_id,
            status=ImportStatus.SUCCEEDED,
            filename="rows.csv",
            stored_name="gone.csv",
            format="csv",
            text_field="text",
            bytes_total=10,
            bytes_done=10,
            rows_done=1,
            imported=1,
            duplicates=0,
            labeled=0,
        )
        session.add(job)
        session.flush()
        return job.id


def _seed_label(world: World, role: str) -> None:
    with world.db.writer() as session, session.begin():
        user = users.get_by_name(session, f"web-{role}")
        assert user is not None
        project = session.get_one(Project, world.project_id)
        submit(session, project, user, item_id=world.item_ids[-1], labels=["food"])


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """Built once per backend (the function-scoped ``client`` and ``db`` fixtures would rebuild
    it for each of the ~150 cases); the cases' writes never touch what another case relies on."""
    directory = tmp_path_factory.mktemp(f"authz-{request.param}")
    with fresh_database(request.param, request, directory) as url:
        settings = Settings(
            database_url=url, data_dir=directory / "data", embedded_worker=False, cv_folds=3
        )
        db = open_database(url)
        try:
            app = create_app(settings, worker=False)
            with TestClient(app, follow_redirects=False) as client:
                yield _populate(client, db, settings)
        finally:
            db.dispose()


def _state(db: Database) -> tuple[object, ...]:
    """Row counts of every table, and the user and project columns a refused call could change."""
    counts = [
        select(func.count()).select_from(t).scalar_subquery() for t in Base.metadata.sorted_tables
    ]
    with db.reader() as session:
        return (
            tuple(session.execute(select(*counts)).one()),
            tuple(
                session.execute(
                    select(
                        User.role, User.password_hash, User.disabled_at, User.deleted_at
                    ).order_by(User.id)
                )
            ),
            tuple(
                session.execute(
                    select(
                        Project.batch_size, Project.strategy, Project.settings, Project.label_events
                    ).order_by(Project.id)
                )
            ),
        )


def _call(
    world: World,
    key: tuple[str, str],
    role: str,
    *,
    csrf: str | None = None,
    send_csrf: bool = True,
    headers: dict[str, str] | None = None,
    fresh: bool = False,
) -> httpx.Response:
    """Call ``key`` with a valid body as ``role``: its bearer token on the API, else its session
    cookie and (on a POST, unless ``send_csrf`` is false) ``csrf`` or the session's own token.

    ``fresh`` (allowed calls of the matrix only) makes what the rule's ``fresh`` and
    ``own_caller`` ask for."""
    method, template = key
    rule = ROUTES[key]
    values = {**world.path_values(), **(rule.fresh(world, role) if fresh else {})}
    path = template.format(**values)
    sent = dict(headers or {})
    token, cookie, own_csrf = world.tokens.get(role), world.cookies[role], world.csrf[role]
    if fresh and rule.own_caller and role != ANONYMOUS:
        token, cookie, own_csrf = _own_caller(world, role)
    if template.startswith("/api/"):
        if role != ANONYMOUS:
            sent.update(auth(token))
    else:
        sent["Cookie"] = f"{SESSION_COOKIE}={cookie}"
        if method == "POST" and send_csrf:
            sent["X-CSRF-Token"] = csrf or own_csrf
    world.client.cookies.clear()
    return world.client.request(method, path, headers=sent, **rule.body(world, role))


def _own_caller(world: World, role: str) -> tuple[str, str, str]:
    """A new user of ``role`` with the password ``own-caller-password``: token, cookie, CSRF."""
    name = f"caller-{next(world.serial)}"
    with world.db.writer() as session, session.begin():
        _, token = users.create_user(session, name=name, role=role, password="own-caller-password")
    form = {"username": name, "password": "own-caller-password"}
    form["csrf_token"] = _page_csrf(world.client, "/login")
    assert world.client.post("/login", data=form, follow_redirects=False).status_code == 303
    csrf = _page_csrf(world.client, "/account")
    cookie = world.client.cookies.get(SESSION_COOKIE)
    assert cookie
    world.client.cookies.clear()
    return token, cookie, csrf


# --- the matrix ------------------------------------------------------------------------------


def test_every_route_is_classified(tmp_path: Path) -> None:
    app = create_app(Settings(database_url="sqlite://", data_dir=tmp_path), worker=False)
    registered = _registered(app)
    unclassified = registered - set(ROUTES) - set(PUBLIC)
    assert not unclassified, f"classify these routes in ROUTES or PUBLIC: {sorted(unclassified)}"
    stale = (set(ROUTES) | set(PUBLIC)) - registered
    assert not stale, f"classified but no longer registered: {sorted(stale)}"


def test_api_schema_documents_the_refusals(tmp_path: Path) -> None:
    app = create_app(Settings(database_url="sqlite://", data_dir=tmp_path), worker=False)
    paths = app.openapi()["paths"]
    for (method, path), rule in ROUTES.items():
        if not path.startswith("/api/"):
            assert path not in paths, f"{path} is a browser route and should not be in the schema"
            continue
        documented = paths[path][method.lower()]["responses"]
        assert "401" in documented, f"{method} {path} should document 401"
        assert ("403" in documented) == (rule.role == ADMIN), f"{method} {path}: 403 iff admin"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("key", list(ROUTES), ids=_key_id)
def test_route_answers_each_role_as_classified(
    world: World, key: tuple[str, str], role: str
) -> None:
    rule = ROUTES[key]
    if RANK[role] >= RANK[rule.role]:
        response = _call(world, key, role, fresh=True)
        assert response.status_code == rule.ok, response.text[:500]
        assert not response.headers.get("location", "").startswith("/login?next=")
        return
    before = _state(world.db)
    if key[1].startswith("/api/"):
        _assert_api_refusal(_call(world, key, role), role)
    elif role == ANONYMOUS:
        _assert_sign_in_redirect(world, key)
    else:
        response = _call(world, key, role)
        assert response.status_code == 403, response.text[:500]
        assert "Not allowed" in response.text and "text/html" in response.headers["content-type"]
    assert _state(world.db) == before, "a refused call must not change anything"


def _assert_api_refusal(response: httpx.Response, role: str) -> None:
    expected = 401 if role == ANONYMOUS else 403
    assert response.status_code == expected, response.text[:500]
    assert response.headers["content-type"] == "application/json"
    detail = response.json()["detail"]
    assert isinstance(detail, str) and ("bearer token" in detail or "admin role" in detail)


def _assert_sign_in_redirect(world: World, key: tuple[str, str]) -> None:
    """Anonymous browsers (with a valid CSRF token, so only the missing sign-in counts) are sent
    to the sign-in page and back; HTMX requests get the same target as ``HX-Redirect``."""
    path = key[1].format(**world.path_values())
    page = _call(world, key, ANONYMOUS)
    assert page.status_code == 303, page.text[:500]
    assert page.headers["location"] == f"/login?next={path}"
    fragment = _call(world, key, ANONYMOUS, headers={"HX-Request": "true"})
    assert fragment.status_code == 204 and fragment.headers["HX-Redirect"] == f"/login?next={path}"


@pytest.mark.parametrize("key", list(PUBLIC), ids=_key_id)
def test_docs_schema_and_static_files_are_public(world: World, key: tuple[str, str]) -> None:
    world.client.cookies.clear()
    assert world.client.get(PUBLIC[key]).status_code == 200


# --- CSRF ------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", WEB_POSTS, ids=_key_id)
def test_browser_posts_need_this_sessions_csrf_token(world: World, key: tuple[str, str]) -> None:
    before = _state(world.db)
    missing = _call(world, key, ADMIN, send_csrf=False)
    foreign = _call(world, key, ADMIN, csrf=world.csrf[ANNOTATOR])  # another session's token
    for response in (missing, foreign):
        assert response.status_code == 403, response.text[:500]
        assert "did not come from this site" in response.text
    assert _state(world.db) == before


# --- tokens and sessions ---------------------------------------------------------------------


BAD_AUTHORIZATION = {
    "no header": None,
    "scheme only": "Bearer",
    "empty token": "Bearer ",
    "basic scheme": "Basic {token}",
    "no scheme": "{token}",
    "unknown token": "Bearer ll_" + "x" * 43,
    "truncated token": "Bearer {token_cut}",
    "token with suffix": "Bearer {token}x",
    "stored digest": "Bearer {digest}",
    "two tokens": "Bearer {token} {token}",
    "non-ascii": "Bearer ll_\u00e9\u00e9",
}


@pytest.mark.parametrize("case", list(BAD_AUTHORIZATION))
def test_malformed_or_unknown_tokens_get_401(world: World, case: str) -> None:
    token = world.tokens[ADMIN]
    template = BAD_AUTHORIZATION[case]
    headers: dict[str, str] = {}
    if template is not None:
        value = template.format(token=token, token_cut=token[:-1], digest=tokens.hash_token(token))
        headers["Authorization"] = value
    world.client.cookies.clear()
    before = _state(world.db)
    for method, path in (
        ("GET", "/api/v1/projects"),
        ("POST", f"/api/v1/projects/{world.project_id}/train"),
    ):
        response = world.client.request(method, path, headers=_latin1(headers))
        assert response.status_code == 401, (case, response.text)
    assert _state(world.db) == before


def _latin1(headers: dict[str, str]) -> dict[str, bytes]:
    return {k: v.encode("latin-1") for k, v in headers.items()}


def test_token_in_query_or_cookie_is_not_accepted(world: World) -> None:
    token = world.tokens[ADMIN]
    world.client.cookies.clear()
    for params, headers in (
        ({"token": token}, {}),
        ({"access_token": token}, {}),
        ({}, {"Cookie": f"token={token}"}),
    ):
        response = world.client.get("/api/v1/projects", params=params, headers=headers)
        assert response.status_code == 401


def test_api_ignores_the_browser_session_and_pages_ignore_tokens(world: World) -> None:
    world.client.cookies.clear()
    cookie = {"Cookie": f"{SESSION_COOKIE}={world.cookies[ADMIN]}"}
    assert world.client.get("/api/v1/projects", headers=cookie).status_code == 401
    page = world.client.get("/users", headers=auth(world.tokens[ADMIN]))
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/users"


def test_a_tampered_session_cookie_is_anonymous(world: World) -> None:
    cookie = world.cookies[ADMIN]
    forged = cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB")
    world.client.cookies.clear()
    page = world.client.get("/users", headers={"Cookie": f"{SESSION_COOKIE}={forged}"})
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/users"


@pytest.fixture
def browser(world: World) -> Iterator[TestClient]:
    """The world's client with a cookie jar of its own for one test (the matrix sends cookies
    by hand and clears the jar)."""
    world.client.cookies.clear()
    yield world.client
    world.client.cookies.clear()


def test_a_deleted_user_loses_api_and_browser_access(world: World, browser: TestClient) -> None:
    _, token = _add_user(world.db, "gone", ADMIN)
    _log_in(browser, "gone")
    assert browser.get("/api/v1/projects", headers=auth(token)).status_code == 200
    assert browser.get("/users").status_code == 200
    with world.db.writer() as session, session.begin():
        session.execute(delete(User).where(User.name == "gone"))
    assert browser.get("/api/v1/projects", headers=auth(token)).status_code == 401
    page = browser.get("/users")
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/users"


def test_a_token_minted_on_the_account_page_needs_the_password_and_revoking_stops_it(
    world: World, browser: TestClient
) -> None:
    _, first = _add_user(world.db, "bo", ANNOTATOR)
    csrf = {"X-CSRF-Token": _log_in(browser, "bo")}
    wrong = browser.post("/account/tokens", data={"name": "s", "password": "x"}, headers=csrf)
    assert wrong.status_code == 422 and "password is wrong" in wrong.text
    page = browser.post(
        "/account/tokens", data={"name": "script", "password": "bo-password"}, headers=csrf
    )
    assert page.status_code == 200
    (new,) = set(re.findall(r"ll_[A-Za-z0-9_-]{43}", page.text))
    for token in (first, new):  # a new token does not retire the others
        assert browser.get("/api/v1/projects", headers=auth(token)).status_code == 200
    mine = browser.get("/api/v1/me/tokens", headers=auth(new)).json()
    assert [t["name"] for t in mine] == ["script", "default"]
    revoked = browser.post(f"/account/tokens/{mine[0]['id']}/revoke", headers=csrf)
    assert revoked.status_code == 200 and ">script<" not in revoked.text
    assert browser.get("/api/v1/projects", headers=auth(new)).status_code == 401
    assert browser.get("/api/v1/projects", headers=auth(first)).status_code == 200


def test_a_demoted_admin_is_refused_at_once(world: World, browser: TestClient) -> None:
    _, token = _add_user(world.db, "ada", ADMIN)
    csrf = _log_in(browser, "ada")
    train = f"/api/v1/projects/{world.project_id}/train"
    assert browser.post(train, headers=auth(token)).status_code == 202
    assert browser.get("/users").status_code == 200
    with world.db.writer() as session, session.begin():
        session.execute(update(User).where(User.name == "ada").values(role=ANNOTATOR))
    assert browser.post(train, headers=auth(token)).status_code == 403
    web = browser.post(f"/projects/{world.project_id}/train", headers={"X-CSRF-Token": csrf})
    assert web.status_code == 403
    assert browser.get("/users").status_code == 403
    assert (
        browser.get(f"/api/v1/projects/{world.project_id}", headers=auth(token)).status_code == 200
    )
    assert browser.get(f"/projects/{world.project_id}/annotate").status_code == 200
