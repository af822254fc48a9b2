"""The authorisation tests of tokens and sessions: malformed, misplaced, revoked, demoted."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, update

from app.models import User
from app.users import tokens
from tests.factories import add_member, auth
from tests.security.authz_world import (
    ADMIN,
    ANNOTATOR,
    MANAGER,
    SESSION_COOKIE,
    World,
    add_user,
    log_in,
    state_of,
)

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
    before = state_of(world.db)
    for method, path in (
        ("GET", "/api/v1/projects"),
        ("POST", f"/api/v1/projects/{world.project_id}/train"),
    ):
        response = world.client.request(method, path, headers=_latin1(headers))
        assert response.status_code == 401, (case, response.text)
    assert state_of(world.db) == before


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
    _, token = add_user(world.db, "gone", ADMIN)
    log_in(browser, "gone")
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
    _, first = add_user(world.db, "bo", ANNOTATOR)
    csrf = {"X-CSRF-Token": log_in(browser, "bo")}
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
    user_id, token = add_user(world.db, "ada", ADMIN)
    csrf = {"X-CSRF-Token": log_in(browser, "ada")}
    project = f"/api/v1/projects/{world.project_id}"
    assert browser.post(f"{project}/train", headers=auth(token)).status_code == 202
    assert browser.get("/users").status_code == 200
    with world.db.writer() as session, session.begin():
        session.execute(update(User).where(User.name == "ada").values(role="annotator"))
    # not a member of the project: it is gone for her, on both surfaces
    assert browser.post(f"{project}/train", headers=auth(token)).status_code == 404
    assert browser.get(project, headers=auth(token)).status_code == 404
    web = browser.post(f"/projects/{world.project_id}/train", headers=csrf)
    assert web.status_code == 404
    assert browser.get("/users").status_code == 403
    add_member(world.db, world.project_id, user_id, ANNOTATOR)
    assert browser.post(f"{project}/train", headers=auth(token)).status_code == 403
    assert browser.get(project, headers=auth(token)).status_code == 200
    assert browser.get(f"/projects/{world.project_id}/annotate").status_code == 200


def test_a_member_role_change_or_removal_applies_to_the_next_request(
    world: World, browser: TestClient
) -> None:
    user_id, token = add_user(world.db, "cy", "annotator", browser=False)
    members = f"/api/v1/projects/{world.project_id}/members"
    admin = auth(world.tokens[ADMIN])
    assert browser.get(members, headers=auth(token)).status_code == 404
    assert browser.post(members, json={"user_id": user_id}, headers=admin).status_code == 201
    assert browser.get(members, headers=auth(token)).status_code == 403
    promoted = browser.patch(f"{members}/{user_id}", json={"role": MANAGER}, headers=admin)
    assert promoted.status_code == 200 and promoted.json()["role"] == MANAGER
    assert browser.get(members, headers=auth(token)).status_code == 200
    assert browser.delete(f"{members}/{user_id}", headers=admin).status_code == 204
    assert browser.get(members, headers=auth(token)).status_code == 404
