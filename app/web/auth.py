"""Sign in and out with a username and password (session cookie)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from app.audit.service import Actor, record
from app.deps import LockoutDep, WriteSession
from app.errors import TooManyRequests
from app.routing import GuardedRoute
from app.users import service as users
from app.web.security import check_csrf, client_address, sign_in, sign_out
from app.web.templating import is_htmx, render

router = APIRouter(route_class=GuardedRoute)


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect to another host after signing in."""
    if not target:
        return "/"
    parsed = urlsplit(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _path_of(url: str | None) -> str:
    """The path and query of ``url``, a page of this site; "/" without one."""
    if not url:
        return "/"
    parsed = urlsplit(url)
    return _safe_next(parsed.path + (f"?{parsed.query}" if parsed.query else ""))


def login_url(request: Request) -> str:
    """The sign-in page, coming back afterwards to the page the browser was on.

    An HTMX request (a fragment, a label sent by the annotate screen) and a form post name
    an address that is no page to come back to (a fragment, a POST-only route: 405), so they
    come back to the page they were sent from: htmx's ``HX-Current-URL``, or the
    ``Referer`` (sent only to this site, ``referrer-policy: same-origin``). Only the path
    and query of either are kept: the target stays on this site whatever the header says.
    """
    if is_htmx(request):
        target = _path_of(request.headers.get("hx-current-url"))
    elif request.method not in ("GET", "HEAD"):
        target = _path_of(request.headers.get("referer"))
    else:
        target = _path_of(str(request.url))
    return f"/login?next={quote(target, safe='/')}"


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    """The sign-in form."""
    return render(request, "login.html", {"next": _safe_next(next), "error": None})


@router.post("/login", dependencies=[Depends(check_csrf)], response_model=None)
def login(
    request: Request,
    session: WriteSession,
    lockout: LockoutDep,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=1000)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> HTMLResponse | RedirectResponse:
    """Check the password; on success start a session and go on to ``next``."""
    address = client_address(request)
    context = {"next": _safe_next(next), "username": username}
    try:
        user = users.sign_in_check(
            session,
            username=username,
            password=password,
            actor=Actor(None, address),
            lockout=lockout,
        )
    except TooManyRequests as exc:
        context["error"] = exc.message
        return render(request, "login.html", context, status_code=429, headers=exc.headers)
    if user is None:
        context["error"] = "Wrong username or password."
        return render(request, "login.html", context, status_code=401)
    sign_in(request, session, user)
    record(session, Actor(user, address), "signin.ok", target=user.name)
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout", dependencies=[Depends(check_csrf)])
def logout(request: Request, session: WriteSession) -> RedirectResponse:
    """End the session, on the server too: a copy of the cookie no longer works."""
    user = sign_out(request, session)
    record(session, Actor(user, client_address(request)), "signout")
    return RedirectResponse("/login", status_code=303)
