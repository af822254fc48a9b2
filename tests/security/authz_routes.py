"""The authorisation matrix's classification of every route, and how a case calls one."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from app.users import service as users
from tests.factories import auth
from tests.security.authz_bodies import (
    Body,
    Fresh,
    adjudicate_form,
    adjudicate_json,
    bulk_json,
    confirm_form,
    credentials,
    delete_items_form,
    delete_items_json,
    fresh_document,
    fresh_label,
    guidelines_form,
    kept_upload,
    label_delete_form,
    label_form,
    label_items_form,
    label_items_json,
    label_json,
    label_name_form,
    label_name_json,
    label_rename_form,
    member_role_form,
    member_role_json,
    mint_form,
    mint_json,
    new_member_form,
    new_member_json,
    new_oracle_json,
    new_project_form,
    new_project_json,
    new_user_form,
    new_user_json,
    no_fresh,
    nothing,
    oracle_form,
    oracle_id_form,
    oracle_options_form,
    oracle_patch_json,
    own_password_form,
    own_password_json,
    own_token,
    password_form,
    password_json,
    patch_project,
    predict_json,
    query,
    relabel_form,
    rename_project_form,
    review_items_form,
    review_items_json,
    role_json,
    settings_form,
    skip_form,
    stash_item,
    throwaway_import,
    throwaway_item,
    throwaway_member,
    throwaway_oracle,
    throwaway_project,
    throwaway_user,
    upload,
    victim_token,
)
from tests.security.authz_world import (
    ADMIN,
    ANNOTATOR,
    ANONYMOUS,
    MANAGER,
    OUTSIDER,
    RANK,
    REVIEWER,
    ROLES,
    SESSION_COOKIE,
    World,
    instance_role,
    join_as,
    page_csrf,
)


@dataclass(frozen=True)
class Rule:
    """The least role a route needs, the status it answers when allowed, and a valid body.

    ``fresh`` makes what an allowed call uses up (a user to delete, a token to revoke) and
    returns the path values that name it; ``own_caller`` calls as a new user of the role,
    for routes that end their caller's sessions (sign-out, a password change).
    """

    role: str  # the least role that may call it
    ok: int
    body: Body = nothing
    fresh: Fresh = no_fresh
    own_caller: bool = False


PROJECT = "/api/v1/projects/{project_id}"
ROUTES: dict[tuple[str, str], Rule] = {
    # JSON API: bearer token.
    ("POST", "/api/v1/projects"): Rule(ADMIN, 201, new_project_json),
    ("GET", "/api/v1/projects"): Rule(OUTSIDER, 200),
    ("GET", PROJECT): Rule(ANNOTATOR, 200),
    ("PATCH", PROJECT): Rule(MANAGER, 200, patch_project),
    ("DELETE", PROJECT): Rule(MANAGER, 204, fresh=throwaway_project),
    ("POST", f"{PROJECT}/labels"): Rule(MANAGER, 201, label_name_json),
    ("PATCH", f"{PROJECT}/labels/{{label:path}}"): Rule(
        MANAGER, 200, label_name_json, fresh=fresh_label
    ),
    ("DELETE", f"{PROJECT}/labels/{{label:path}}"): Rule(MANAGER, 200, fresh=fresh_label),
    ("POST", f"{PROJECT}/imports"): Rule(MANAGER, 201, upload),
    ("GET", f"{PROJECT}/imports/{{job_id}}"): Rule(MANAGER, 200),
    ("GET", f"{PROJECT}/imports"): Rule(MANAGER, 200),
    ("DELETE", f"{PROJECT}/imports/{{job_id}}"): Rule(MANAGER, 200, fresh=throwaway_import),
    ("GET", f"{PROJECT}/export"): Rule(ANNOTATOR, 200, query(format="jsonl")),
    ("GET", f"{PROJECT}/items"): Rule(ANNOTATOR, 200, query(limit=5, status="unlabeled")),
    ("GET", f"{PROJECT}/queue"): Rule(ANNOTATOR, 200, query(limit=2)),
    ("POST", f"{PROJECT}/annotations"): Rule(ANNOTATOR, 201, label_json),
    ("POST", f"{PROJECT}/annotations/bulk"): Rule(ANNOTATOR, 200, bulk_json),
    ("GET", f"{PROJECT}/model"): Rule(ANNOTATOR, 200),
    ("POST", f"{PROJECT}/predict"): Rule(ANNOTATOR, 200, predict_json),
    ("POST", f"{PROJECT}/train"): Rule(MANAGER, 202),
    ("GET", f"{PROJECT}/runs"): Rule(ANNOTATOR, 200),
    ("GET", f"{PROJECT}/label-issues"): Rule(REVIEWER, 200),
    ("GET", f"{PROJECT}/items/{{item_id}}/history"): Rule(ANNOTATOR, 200),
    ("GET", f"{PROJECT}/documents/{{document_id}}"): Rule(ANNOTATOR, 200, fresh=fresh_document),
    ("DELETE", f"{PROJECT}/items/{{item_id}}"): Rule(MANAGER, 204, fresh=throwaway_item),
    ("POST", f"{PROJECT}/items/delete"): Rule(MANAGER, 200, delete_items_json),
    ("POST", f"{PROJECT}/items/label"): Rule(REVIEWER, 200, label_items_json),
    ("POST", f"{PROJECT}/items/review"): Rule(REVIEWER, 200, review_items_json),
    ("GET", f"{PROJECT}/members"): Rule(MANAGER, 200),
    ("POST", f"{PROJECT}/members"): Rule(MANAGER, 201, new_member_json),
    ("PATCH", f"{PROJECT}/members/{{user_id}}"): Rule(
        MANAGER, 200, member_role_json, fresh=throwaway_member
    ),
    ("DELETE", f"{PROJECT}/members/{{user_id}}"): Rule(MANAGER, 204, fresh=throwaway_member),
    ("GET", f"{PROJECT}/agreement"): Rule(ANNOTATOR, 200),
    ("GET", f"{PROJECT}/oracles"): Rule(MANAGER, 200),
    ("POST", f"{PROJECT}/oracles"): Rule(MANAGER, 201, new_oracle_json),
    ("PATCH", f"{PROJECT}/oracles/{{oracle_id}}"): Rule(
        MANAGER, 200, oracle_patch_json, fresh=throwaway_oracle
    ),
    ("DELETE", f"{PROJECT}/oracles/{{oracle_id}}"): Rule(MANAGER, 204, fresh=throwaway_oracle),
    ("GET", f"{PROJECT}/oracles/{{oracle_id}}/stats"): Rule(ANNOTATOR, 200, fresh=throwaway_oracle),
    ("GET", f"{PROJECT}/review"): Rule(REVIEWER, 200),
    ("PUT", f"{PROJECT}/review/{{item_id}}"): Rule(REVIEWER, 200, adjudicate_json),
    ("GET", "/api/v1/me"): Rule(OUTSIDER, 200),
    ("POST", "/api/v1/me/password"): Rule(OUTSIDER, 204, own_password_json, own_caller=True),
    ("GET", "/api/v1/me/tokens"): Rule(OUTSIDER, 200),
    ("POST", "/api/v1/me/tokens"): Rule(OUTSIDER, 201, mint_json),
    ("DELETE", "/api/v1/me/tokens/{token_id}"): Rule(OUTSIDER, 204, fresh=own_token("api")),
    ("GET", "/api/v1/users"): Rule(ADMIN, 200),
    ("POST", "/api/v1/users"): Rule(ADMIN, 201, new_user_json),
    ("PATCH", "/api/v1/users/{user_id}"): Rule(ADMIN, 200, role_json),
    ("POST", "/api/v1/users/{user_id}/password"): Rule(ADMIN, 204, password_json),
    ("DELETE", "/api/v1/users/{user_id}"): Rule(ADMIN, 204, fresh=throwaway_user),
    ("GET", "/api/v1/users/{user_id}/tokens"): Rule(ADMIN, 200),
    ("DELETE", "/api/v1/users/{user_id}/tokens/{token_id}"): Rule(ADMIN, 204, fresh=victim_token),
    ("GET", "/api/v1/audit"): Rule(ADMIN, 200),
    # Browser: session cookie, and the session's CSRF token on every POST.
    ("GET", "/login"): Rule(ANONYMOUS, 200),
    ("POST", "/login"): Rule(ANONYMOUS, 303, credentials),
    ("POST", "/logout"): Rule(ANONYMOUS, 303, own_caller=True),
    ("GET", "/"): Rule(OUTSIDER, 200),
    ("GET", "/projects/new"): Rule(ADMIN, 200),
    ("POST", "/projects"): Rule(ADMIN, 303, new_project_form),
    ("GET", "/projects/{project_id}"): Rule(ANNOTATOR, 200),
    ("GET", "/projects/{project_id}/live"): Rule(ANNOTATOR, 200),
    ("GET", "/projects/{project_id}/agreement"): Rule(ANNOTATOR, 200),
    ("GET", "/projects/{project_id}/review"): Rule(REVIEWER, 200),
    ("POST", "/projects/{project_id}/review/{item_id}"): Rule(REVIEWER, 200, adjudicate_form),
    ("POST", "/projects/{project_id}/train"): Rule(MANAGER, 200),
    ("POST", "/projects/{project_id}/settings"): Rule(MANAGER, 200, settings_form),
    ("GET", "/projects/{project_id}/settings"): Rule(MANAGER, 200),
    ("POST", "/projects/{project_id}/rename"): Rule(
        MANAGER, 303, rename_project_form, fresh=throwaway_project
    ),
    ("POST", "/projects/{project_id}/delete"): Rule(
        MANAGER, 303, confirm_form, fresh=throwaway_project
    ),
    ("POST", "/projects/{project_id}/labels"): Rule(MANAGER, 303, label_name_form),
    ("POST", "/projects/{project_id}/labels/rename"): Rule(
        MANAGER, 303, label_rename_form, fresh=fresh_label
    ),
    ("POST", "/projects/{project_id}/labels/delete"): Rule(
        MANAGER, 303, label_delete_form, fresh=fresh_label
    ),
    ("POST", "/projects/{project_id}/imports/{job_id}/undo"): Rule(
        MANAGER, 303, fresh=throwaway_import
    ),
    ("GET", "/projects/{project_id}/members"): Rule(MANAGER, 303),
    ("POST", "/projects/{project_id}/members"): Rule(MANAGER, 200, new_member_form),
    ("POST", "/projects/{project_id}/members/{user_id}/role"): Rule(
        MANAGER, 200, member_role_form, fresh=throwaway_member
    ),
    ("POST", "/projects/{project_id}/members/{user_id}/remove"): Rule(
        MANAGER, 200, fresh=throwaway_member
    ),
    ("POST", "/projects/{project_id}/guidelines"): Rule(MANAGER, 303, guidelines_form),
    ("POST", "/projects/{project_id}/oracle-options"): Rule(MANAGER, 303, oracle_options_form),
    ("POST", "/projects/{project_id}/oracles"): Rule(MANAGER, 303, oracle_form),
    ("POST", "/projects/{project_id}/oracles/change"): Rule(
        MANAGER, 303, oracle_id_form, fresh=throwaway_oracle
    ),
    ("POST", "/projects/{project_id}/oracles/remove"): Rule(
        MANAGER, 303, oracle_id_form, fresh=throwaway_oracle
    ),
    ("GET", "/projects/{project_id}/oracles/panel"): Rule(ANNOTATOR, 200),
    ("GET", "/projects/{project_id}/export.{fmt}"): Rule(ANNOTATOR, 200),
    ("GET", "/projects/{project_id}/items"): Rule(ANNOTATOR, 200),
    ("GET", "/projects/{project_id}/items/more"): Rule(ANNOTATOR, 200, query(after=1)),
    ("GET", "/projects/{project_id}/items/{item_id}/history"): Rule(ANNOTATOR, 200),
    ("POST", "/projects/{project_id}/items/label"): Rule(REVIEWER, 303, label_items_form),
    ("POST", "/projects/{project_id}/items/review"): Rule(REVIEWER, 303, review_items_form),
    ("POST", "/projects/{project_id}/items/delete"): Rule(
        MANAGER, 303, delete_items_form, fresh=stash_item
    ),
    ("GET", "/projects/{project_id}/import"): Rule(MANAGER, 200),
    ("POST", "/projects/{project_id}/import/preview"): Rule(MANAGER, 200, upload),
    ("POST", "/projects/{project_id}/import"): Rule(MANAGER, 200, kept_upload),
    ("GET", "/projects/{project_id}/import/jobs/{job_id}"): Rule(MANAGER, 200),
    ("GET", "/projects/{project_id}/annotate"): Rule(ANNOTATOR, 200),
    ("POST", "/projects/{project_id}/annotate/submit"): Rule(ANNOTATOR, 200, label_form),
    ("POST", "/projects/{project_id}/annotate/skip"): Rule(ANNOTATOR, 200, skip_form),
    ("POST", "/projects/{project_id}/annotate/undo"): Rule(ANNOTATOR, 200),
    ("POST", "/projects/{project_id}/annotate/history/{item_id}"): Rule(
        ANNOTATOR, 200, relabel_form
    ),
    ("GET", "/projects/{project_id}/annotate/progress"): Rule(ANNOTATOR, 200),
    ("GET", "/users"): Rule(ADMIN, 200),
    ("POST", "/users"): Rule(ADMIN, 200, new_user_form),
    ("POST", "/users/{user_id}/password"): Rule(ADMIN, 200, password_form),
    ("POST", "/users/{user_id}/{action}"): Rule(ADMIN, 200, fresh=throwaway_user),
    ("GET", "/users/{user_id}/tokens"): Rule(ADMIN, 200),
    ("POST", "/users/{user_id}/tokens/{token_id}/revoke"): Rule(ADMIN, 200, fresh=victim_token),
    ("GET", "/audit"): Rule(ADMIN, 200),
    ("GET", "/account"): Rule(OUTSIDER, 200),
    ("POST", "/account/password"): Rule(OUTSIDER, 200, own_password_form, own_caller=True),
    ("POST", "/account/tokens"): Rule(OUTSIDER, 200, mint_form),
    ("POST", "/account/tokens/{token_id}/revoke"): Rule(OUTSIDER, 200, fresh=own_token("web")),
}
# Public by design (README: interactive docs at /docs, schema at /openapi.json): a URL to try.
PUBLIC: dict[tuple[str, str], str] = {
    ("GET", "/openapi.json"): "/openapi.json",
    ("GET", "/health"): "/health",  # for load balancers; says nothing about users or data
    ("GET", "/docs"): "/docs",
    ("GET", "/redoc"): "/redoc",
    ("MOUNT", "/static"): "/static/app.css",
}
WEB_POSTS = [key for key in ROUTES if key[0] == "POST" and not key[1].startswith("/api/")]


def registered_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route, mounts as ("MOUNT", path); HEAD goes with GET."""
    found: set[tuple[str, str]] = set()
    for route in iter_route_contexts(app.routes):
        assert route.path is not None, f"a route without a path: {route.original_route!r}"
        methods = route.methods
        found |= (
            {(m, route.path) for m in methods - {"HEAD"}} if methods else {("MOUNT", route.path)}
        )
    return found


def key_id(key: tuple[str, str]) -> str:
    return f"{key[0]} {key[1]}"


def expected(key: tuple[str, str], role: str) -> int:
    """The status ``role`` gets from the route ``key``, from its rule in ``ROUTES``."""
    rule = ROUTES[key]
    if RANK[role] >= RANK[rule.role]:
        return rule.ok
    if role == ANONYMOUS:
        return 401 if key[1].startswith("/api/") else 303  # the sign-in page
    if role == OUTSIDER and "{project_id}" in key[1]:
        return 404  # as if the project did not exist
    return 403


MATRIX = {(key, role): expected(key, role) for key in ROUTES for role in ROLES}


def call(
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
    world.sent = values
    path = plain(template).format(**values)
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


def plain(template: str) -> str:
    """The path template without converters (``{label:path}`` -> ``{label}``)."""
    return re.sub(r"\{(\w+):\w+\}", r"{\1}", template)


def _own_caller(world: World, role: str) -> tuple[str, str, str]:
    """A new user of ``role`` with the password ``own-caller-password``: token, cookie, CSRF."""
    name = f"caller-{next(world.serial)}"
    with world.db.writer() as session, session.begin():
        user, token = users.create_user(
            session, name=name, role=instance_role(role), password="own-caller-password"
        )
    join_as(world, user.id, role)
    form = {"username": name, "password": "own-caller-password"}
    form["csrf_token"] = page_csrf(world.client, "/login")
    assert world.client.post("/login", data=form, follow_redirects=False).status_code == 303
    csrf = page_csrf(world.client, "/account")
    cookie = world.client.cookies.get(SESSION_COOKIE)
    assert cookie
    world.client.cookies.clear()
    return token, cookie, csrf
