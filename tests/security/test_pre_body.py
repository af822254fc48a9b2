"""Every route decides who the caller is before it reads a body (``app.routing``).

Over a real socket: the server must answer 401/403/404 after seeing only the request head and
a sliver of a large body. Were the body read first, the server would wait for bytes this
test never sends and the answer would not come.
"""

from __future__ import annotations

from pathlib import Path

from fastapi.routing import APIRoute, iter_route_contexts

from app.config import Settings
from app.main import create_app
from app.routing import GuardedRoute, pre_body_checks
from tests.factories import create_project, create_user
from tests.security.conftest import Live, snapshot
from tests.security.test_upload_streams import BOUNDARY, _connect, _part_start, _status

PUBLIC_PATHS = {"/health", "/login", "/logout", "/docs", "/redoc"}  # the docs: public pages


def test_every_route_checks_its_caller_before_the_body(tmp_path: Path) -> None:
    app = create_app(Settings(database_url="sqlite://", data_dir=tmp_path), worker=False)
    routes = [
        r.original_route
        for r in iter_route_contexts(app.routes)  # included routers too
        if isinstance(r.original_route, APIRoute)
    ]
    assert len(routes) > 50
    for route in routes:
        assert isinstance(route, GuardedRoute), f"{route.path} is not a GuardedRoute"
        if route.path not in PUBLIC_PATHS:
            checks = pre_body_checks(route.dependant)
            assert checks, f"{route.methods} {route.path} has no pre-body identity check"


def _send_head_and_a_sliver(url: str, head: str, sliver: bytes) -> int:
    with _connect(url) as sock:
        sock.sendall(head.encode() + sliver)
        # The rest of the body is never sent: only an answer given without it arrives.
        sock.settimeout(10)
        try:
            return _status(sock)
        except TimeoutError as exc:
            raise AssertionError("the server waited for the body before answering") from exc


def _files(directory: Path) -> set[tuple[str, int]]:
    return {(p.name, p.stat().st_size) for p in directory.rglob("*") if p.is_file()}


def test_an_anonymous_16_mb_json_body_is_refused_unread(live: Live) -> None:
    project = create_project(live.db, name="pre-body-json")
    head = (
        f"POST /api/v1/projects/{project.id}/predict HTTP/1.1\r\nHost: test\r\n"
        f"Content-Type: application/json\r\nContent-Length: {16 * 1024 * 1024 - 1}\r\n\r\n"
    )
    assert _send_head_and_a_sliver(live.url, head, b"[" * 65536) == 401


def _upload_start(url: str, path: str, token: str | None = None) -> int:
    """Status of a chunked multipart upload to ``path`` of which only the first 60 KB go."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: test\r\n"
        + (f"Authorization: Bearer {token}\r\n" if token else "")
        + f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    part = _part_start() + b"x" * 60_000
    return _send_head_and_a_sliver(url, head, b"%x\r\n%s\r\n" % (len(part), part))


def test_an_anonymous_150_mb_upload_is_refused_unread(live: Live) -> None:
    project = create_project(live.db, name="pre-body-upload")
    before = snapshot(live.db), _files(live.tmp), _files(live.settings.data_dir)
    assert _upload_start(live.url, f"/api/v1/projects/{project.id}/imports") == 401
    assert (snapshot(live.db), _files(live.tmp), _files(live.settings.data_dir)) == before


def test_an_annotators_upload_to_an_admin_route_is_refused_unread(live: Live) -> None:
    project = create_project(live.db, name="pre-body-role")
    path = f"/api/v1/projects/{project.id}/imports"
    assert _upload_start(live.url, path, live.user("annotator")) == 403


def test_a_non_members_upload_is_refused_unread_as_not_found(live: Live) -> None:
    project = create_project(live.db, name="pre-body-member", members={})
    _, outsider = create_user(live.db, name="pre-body-outsider", role="annotator", projects=())
    path = f"/api/v1/projects/{project.id}/imports"
    before = snapshot(live.db), _files(live.settings.data_dir)
    assert _upload_start(live.url, path, outsider) == 404
    assert (snapshot(live.db), _files(live.settings.data_dir)) == before


def test_an_anonymous_form_post_is_sent_to_sign_in_unread(live: Live) -> None:
    project = create_project(live.db, name="pre-body-web")
    assert _upload_start(live.url, f"/projects/{project.id}/import/preview") == 303


def test_the_forms_anyone_may_post_take_only_a_small_body(live: Live) -> None:
    """Sign-in and sign-out read their form before knowing the caller: a few KB at most."""
    for path in ("/login", "/logout"):
        head = (
            f"POST {path} HTTP/1.1\r\nHost: test\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {16 * 1024 * 1024}\r\n\r\n"
        )
        assert _send_head_and_a_sliver(live.url, head, b"username=" + b"a" * 1000) == 413
