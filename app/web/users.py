"""User management for admins, and each user's own account page (API token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse

from app.deps import ReadSession, WriteSession
from app.errors import NotFound
from app.fields import PathId
from app.models import User
from app.routing import GuardedRoute
from app.users import service as users
from app.web.security import WebAdmin, WebUser, check_csrf, sign_in
from app.web.templating import render

router = APIRouter(dependencies=[Depends(check_csrf)], route_class=GuardedRoute)


@router.get("/users", response_class=HTMLResponse)
def user_list(request: Request, session: ReadSession, user: WebAdmin) -> HTMLResponse:
    """Every user; forms to add one and to reset a password."""
    context = {"current_user": user, "users": users.list_users(session), "created": None}
    return render(request, "users/list.html", context)


@router.post("/users", response_class=HTMLResponse)
def add_user(
    request: Request,
    session: WriteSession,
    user: WebAdmin,
    name: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=1000)],
    role: Annotated[str, Form(max_length=20)] = "annotator",
) -> HTMLResponse:
    """Create a user with a password; shows the new user's API token once."""
    created, token = users.create_user(session, name=name, role=role, password=password)
    context = {
        "current_user": user,
        "users": users.list_users(session),
        "created": (created.name, token),
    }
    return render(request, "users/list.html", context, block="users")


@router.post("/users/{user_id}/password", response_class=HTMLResponse)
def reset_password(
    request: Request,
    user_id: PathId,
    session: WriteSession,
    user: WebAdmin,
    password: Annotated[str, Form(max_length=1000)],
) -> HTMLResponse:
    """Set a new password for a user (signs out their other sessions)."""
    target = session.get(User, user_id)
    if target is None:
        raise NotFound(f"user {user_id} not found")
    users.set_password(session, target, password)
    if target.id == user.id:
        sign_in(request, target)
    context = {
        "current_user": user,
        "users": users.list_users(session),
        "created": None,
        "reset": target.name,
    }
    return render(request, "users/list.html", context, block="users")


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, user: WebUser) -> HTMLResponse:
    """The signed-in user's account: role and API token."""
    return render(request, "users/account.html", {"current_user": user, "token": None})


@router.post("/account/token", response_class=HTMLResponse)
def regenerate(request: Request, session: WriteSession, user: WebUser) -> HTMLResponse:
    """Issue a new API token (the old one stops working)."""
    me = session.get_one(User, user.id)
    token = users.regenerate_token(session, me)
    return render(
        request, "users/account.html", {"current_user": user, "token": token}, block="token"
    )
