"""R8: the authorisation matrix. Every registered route, called as each role: anonymous, an
outsider (signed in, a manager of another project, not a member of this one), an annotator,
reviewer and manager of the project, and an instance admin.

``ROUTES`` (``authz_routes.py``) names the least role each route needs; the expected status of
every (route, method, role) follows from it (``expected``): the route's own status from that
role up; below it, 401 (API) or a sign-in redirect (screens) for anonymous callers, 404 for an
outsider on a project route (the missing project's answer: no existence leak), 403 otherwise. A
route the app registers that is neither in ``ROUTES`` nor in ``PUBLIC`` (docs, schema, static
files) fails ``test_every_route_is_classified``, so a new route cannot ship unclassified. Every
refused call is followed by a re-read of the database that must show nothing changed. Tokens and
sessions are tested in ``test_authorization_sessions.py``, another project's objects in
``test_authorization_objects.py``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from app.config import Settings
from app.main import create_app
from tests.security.authz_routes import (
    MATRIX,
    PUBLIC,
    ROUTES,
    WEB_POSTS,
    call,
    key_id,
    plain,
    registered_routes,
)
from tests.security.authz_world import ADMIN, ANNOTATOR, ANONYMOUS, RANK, ROLES, World, state_of

# --- the matrix ------------------------------------------------------------------------------


def test_every_route_is_classified(tmp_path: Path) -> None:
    app = create_app(Settings(database_url="sqlite://", data_dir=tmp_path), worker=False)
    registered = registered_routes(app)
    unclassified = registered - set(ROUTES) - set(PUBLIC)
    assert not unclassified, f"classify these routes in ROUTES or PUBLIC: {sorted(unclassified)}"
    stale = (set(ROUTES) | set(PUBLIC)) - registered
    assert not stale, f"classified but no longer registered: {sorted(stale)}"


def test_api_schema_documents_the_refusals(tmp_path: Path) -> None:
    app = create_app(Settings(database_url="sqlite://", data_dir=tmp_path), worker=False)
    paths = app.openapi()["paths"]
    for method, path in ROUTES:
        if not path.startswith("/api/"):
            assert path not in paths, f"{path} is a browser route and should not be in the schema"
            continue
        documented = paths[plain(path)][method.lower()]["responses"]
        assert "401" in documented, f"{method} {path} should document 401"
        refusing = any(MATRIX[(method, path), role] == 403 for role in ROLES)
        assert ("403" in documented) == refusing, f"{method} {path}: 403 iff some role gets it"
        if "{project_id}" in path:
            assert "404" in documented, f"{method} {path} should document 404"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("key", list(ROUTES), ids=key_id)
def test_route_answers_each_role_as_classified(
    world: World, key: tuple[str, str], role: str
) -> None:
    status = MATRIX[key, role]
    if RANK[role] >= RANK[ROUTES[key].role]:
        response = call(world, key, role, fresh=True)
        assert response.status_code == status, response.text[:500]
        assert not response.headers.get("location", "").startswith("/login?next=")
        return
    before = state_of(world.db)
    if role == ANONYMOUS and not key[1].startswith("/api/"):
        _assert_sign_in_redirect(world, key)
    else:
        _assert_refusal(world, call(world, key, role), key, status)
    assert state_of(world.db) == before, "a refused call must not change anything"


def _assert_refusal(
    world: World, response: httpx.Response, key: tuple[str, str], status: int
) -> None:
    """401 or 403 with their reason, or 404 worded exactly as for a missing project."""
    assert response.status_code == status, response.text[:500]
    missing = f"project {world.project_id} not found"
    if key[1].startswith("/api/"):
        assert response.headers["content-type"] == "application/json"
        detail = response.json()["detail"]
        reasons = {401: "bearer token", 403: " role", 404: missing}
        assert isinstance(detail, str) and reasons[status] in detail, detail
    else:
        assert "text/html" in response.headers["content-type"]
        heading = {403: "Not allowed", 404: "Not found"}[status]
        assert heading in response.text
        if status == 404:
            assert missing in response.text


def _assert_sign_in_redirect(world: World, key: tuple[str, str]) -> None:
    """Anonymous browsers (with a valid CSRF token, so only the missing sign-in counts) are sent
    to the sign-in page and back to the page they were on: a page's own address; the page that
    sent a form post (``Referer``) or an HTMX request (``HX-Current-URL``), never a fragment or
    a POST-only route. HTMX requests get the target as ``HX-Redirect`` with a 401, which no
    script can take for success."""
    came_from = f"/projects/{world.project_id}/items?page=2"
    sent_from = f"http://testserver{came_from}"
    page = call(world, key, ANONYMOUS, headers={"Referer": sent_from})
    assert page.status_code == 303, page.text[:500]
    own = page.request.url.copy_with(scheme=None, host=None)  # path and query
    back = quote(str(own) if key[0] == "GET" else came_from, safe="/")
    assert page.headers["location"] == f"/login?next={back}"
    headers = {"HX-Request": "true", "HX-Current-URL": sent_from}
    fragment = call(world, key, ANONYMOUS, headers=headers)
    assert fragment.status_code == 401
    assert fragment.headers["HX-Redirect"] == f"/login?next={quote(came_from, safe='/')}"


@pytest.mark.parametrize("key", list(PUBLIC), ids=key_id)
def test_docs_schema_and_static_files_are_public(world: World, key: tuple[str, str]) -> None:
    world.client.cookies.clear()
    assert world.client.get(PUBLIC[key]).status_code == 200


# --- CSRF ------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", WEB_POSTS, ids=key_id)
def test_browser_posts_need_this_sessions_csrf_token(world: World, key: tuple[str, str]) -> None:
    before = state_of(world.db)
    missing = call(world, key, ADMIN, send_csrf=False)
    foreign = call(world, key, ADMIN, csrf=world.csrf[ANNOTATOR])  # another session's token
    for response in (missing, foreign):
        assert response.status_code == 403, response.text[:500]
        assert "did not come from this site" in response.text
    assert state_of(world.db) == before
