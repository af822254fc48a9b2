"""User management for admins, and each user's own account page (password, API tokens)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse

from app.audit.service import Actor
from app.deps import LockoutDep, ReadSession, WriteSession
from app.errors import NotFound
from app.fields import PathId
from app.models import User
from app.routing import GuardedRoute
from app.users import service as users
from app.users import tokens
from app.web.security import WebAdmin, WebUser, check_csrf, client_address, sign_in
from app.web.templating import render

router = APIRouter(dependencies=[Depends(check_csrf)], route_class=GuardedRoute)
Password = Annotated[str, Form(max_length=1000)]


def _actor(request: Request, user: User) -> Actor:
    return Actor(user, client_address(request))


def _users_page(request: Request, session: ReadSession, user: User, **extra: Any) -> HTMLResponse:
    context = {"current_user": user, "users": users.list_users(session), **extra}
    return render(request, "users/list.html", context, block="users" if extra else None)


@router.get("/users", response_class=HTMLResponse)
def user_list(request: Request, session: ReadSession, user: WebAdmin) -> HTMLResponse:
    """Every user; forms to add one, reset a password, disable, enable and delete."""
    return _users_page(request, session, user)


@router.post("/users", response_class=HTMLResponse)
def add_user(
    request: Request,
    session: WriteSession,
    user: WebAdmin,
    name: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=1000)] = "",
    role: Annotated[str, Form(max_length=20)] = "annotator",
) -> HTMLResponse:
    """Create a user (API-only without a password); shows the new user's API token once."""
    created, token = users.create_user(
        session, name=name, role=role, password=password or None, actor=_actor(request, user)
    )
    return _users_page(request, session, user, created=(created.name, token))


@router.post("/users/{user_id}/password", response_class=HTMLResponse)
def reset_password(
    request: Request,
    user_id: PathId,
    session: WriteSession,
    user: WebAdmin,
    password: Password,
    revoke_tokens: Annotated[bool, Form()] = False,
) -> HTMLResponse:
    """Set a user's password: ends their web sessions, and revokes their tokens if asked."""
    target = users.get_user(session, user_id)
    users.reset_password(
        session, target, password, revoke_tokens=revoke_tokens, actor=_actor(request, user)
    )
    if target.id == user.id:  # this browser stays signed in
        sign_in(request, session, target)
    return _users_page(request, session, user, message=f"Password of {target.name} changed.")


@router.post("/users/{user_id}/{action}", response_class=HTMLResponse)
def account_state(
    request: Request, user_id: PathId, action: str, session: WriteSession, user: WebAdmin
) -> HTMLResponse:
    """Disable, enable or delete an account (``action``)."""
    target = users.get_user(session, user_id)
    actor = _actor(request, user)
    if action in ("disable", "enable"):
        users.set_disabled(session, target, action == "disable", actor=actor)
    elif action == "delete":
        users.delete_user(session, target, actor=actor)
    else:
        raise NotFound(f"no action {action!r}")
    message = f"{target.name}: {action}d."
    return _users_page(request, session, user, message=message)


@router.get("/users/{user_id}/tokens", response_class=HTMLResponse)
def user_tokens(
    request: Request, user_id: PathId, session: ReadSession, user: WebAdmin
) -> HTMLResponse:
    """A user's API tokens, each with a revoke button."""
    target = users.get_user(session, user_id)
    context = {
        "current_user": user,
        "owner": target,
        "tokens": tokens.list_tokens(session, target.id),
    }
    return render(request, "users/tokens.html", context)


@router.post("/users/{user_id}/tokens/{token_id}/revoke", response_class=HTMLResponse)
def revoke_user_token(
    request: Request, user_id: PathId, token_id: PathId, session: WriteSession, user: WebAdmin
) -> HTMLResponse:
    """Revoke any user's token."""
    target = users.get_user(session, user_id)
    token = tokens.get_token(session, token_id, owner=user)
    if token.user_id != target.id:
        raise NotFound(f"token {token_id} not found")
    users.revoke_token(session, token, actor=_actor(request, user))
    context = {
        "current_user": user,
        "owner": target,
        "tokens": tokens.list_tokens(session, target.id),
    }
    return render(request, "users/tokens.html", context, block="tokens")


def _account(
    request: Request, session: ReadSession, user: User, block: str | None = None, **extra: Any
) -> HTMLResponse:
    """The account page, or only its ``block`` (the tokens section after an HTMX post)."""
    context = {"current_user": user, "tokens": tokens.list_tokens(session, user.id), **extra}
    return render(request, "users/account.html", context, block=block)


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, session: ReadSession, user: WebUser) -> HTMLResponse:
    """The signed-in user's account: password and API tokens."""
    return _account(request, session, user)


@router.post("/account/password", response_class=HTMLResponse)
def change_password(
    request: Request,
    session: WriteSession,
    user: WebUser,
    lockout: LockoutDep,
    current_password: Password,
    new_password: Password,
) -> HTMLResponse:
    """Change your password; every other session of yours ends, this one goes on."""
    me = users.get_user(session, user.id)
    actor = _actor(request, user)
    users.change_password(
        session, me, current=current_password, new=new_password, actor=actor, lockout=lockout
    )
    sign_in(request, session, me)
    return _account(request, session, user, password_changed=True)


@router.post("/account/tokens", response_class=HTMLResponse)
def mint_token(
    request: Request,
    session: WriteSession,
    user: WebUser,
    lockout: LockoutDep,
    name: Annotated[str, Form(max_length=100)],
    password: Password,
    expires_days: Annotated[int | None, Form(ge=1, le=tokens.MAX_EXPIRY_DAYS)] = None,
) -> HTMLResponse:
    """A new named API token; asks for the password again (a stolen cookie cannot mint one)."""
    me = users.get_user(session, user.id)
    _, value = users.mint_token(
        session,
        me,
        name=name,
        expires_days=expires_days,
        password=password,
        actor=_actor(request, user),
        lockout=lockout,
    )
    return _account(request, session, user, block="tokens", new_token=value)


@router.post("/account/tokens/{token_id}/revoke", response_class=HTMLResponse)
def revoke_token(
    request: Request, token_id: PathId, session: WriteSession, user: WebUser
) -> HTMLResponse:
    """Revoke one of your tokens."""
    token = tokens.get_token(session, token_id, owner=user)
    if token.user_id != user.id:
        raise NotFound(f"token {token_id} not found")
    users.revoke_token(session, token, actor=_actor(request, user))
    return _account(request, session, user, block="tokens")
