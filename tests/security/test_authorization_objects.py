"""The authorisation tests of another project's objects named through one's own project."""

from __future__ import annotations

import pytest

from app.users import service as users
from tests.factories import add_member, auth
from tests.security.authz_routes import ROUTES, key_id, plain
from tests.security.authz_world import (
    ANNOTATOR,
    OUTSIDER,
    SESSION_COOKIE,
    World,
    add_user,
    state_of,
)

# Routes of the outsider's own project that name an object by id: given the world project's
# item, job or member, each answers 404 and changes nothing.
FOREIGN_OBJECTS = [
    key
    for key in ROUTES
    if "{project_id}" in key[1]
    and any(name in key[1] for name in ("{item_id}", "{job_id}", "{user_id}"))
]


@pytest.mark.parametrize("key", FOREIGN_OBJECTS, ids=key_id)
def test_another_projects_objects_are_not_found_through_ones_own(
    world: World, key: tuple[str, str]
) -> None:
    """The outsider manages their own project; the world project's objects named through it
    (its item, import job, a member of it) are 404, and a re-read shows nothing changed."""
    method, template = key
    member_id = _own_member(world)
    values = {**world.path_values(), "project_id": world.other_id, "user_id": member_id}
    sent: dict[str, str] = {}
    if template.startswith("/api/"):
        sent.update(auth(world.tokens[OUTSIDER]))
    else:
        sent["Cookie"] = f"{SESSION_COOKIE}={world.cookies[OUTSIDER]}"
        sent["X-CSRF-Token"] = world.csrf[OUTSIDER]
    before = state_of(world.db)
    world.client.cookies.clear()
    response = world.client.request(
        method, plain(template).format(**values), headers=sent, **ROUTES[key].body(world, OUTSIDER)
    )
    assert response.status_code == 404, response.text[:500]
    assert state_of(world.db) == before


def _own_member(world: World) -> int:
    """A member of the world project only (made once)."""
    with world.db.reader() as session:
        found = users.get_by_name(session, "member-here-only")
    if found is not None:
        return found.id
    user_id = add_user(world.db, "member-here-only", "annotator", browser=False)[0]
    add_member(world.db, world.project_id, user_id, ANNOTATOR)
    return user_id
