"""JSON routes for accounts: your own (``/me``) and, for admins, everyone's (``/users``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from app.deps import ActorDep, AdminUser, CurrentUser, LockoutDep, ReadSession, WriteSession
from app.errors import NotFound, responses
from app.fields import PathId
from app.routing import GuardedRoute
from app.users import service, tokens
from app.users.schemas import (
    PasswordChange,
    PasswordReset,
    TokenCreated,
    TokenIn,
    TokenOut,
    UserCreated,
    UserIn,
    UserOut,
    UserPatch,
)

router = APIRouter(tags=["accounts"], route_class=GuardedRoute)
NO_CONTENT: dict[str, Any] = {"status_code": status.HTTP_204_NO_CONTENT, "response_model": None}


@router.get("/me")
def me(user: CurrentUser) -> UserOut:
    """The token's user."""
    return UserOut.of(user)


@router.post("/me/password", responses=responses(429), **NO_CONTENT)
def change_password(
    body: PasswordChange,
    me: CurrentUser,
    session: WriteSession,
    actor: ActorDep,
    lockout: LockoutDep,
) -> None:
    """Change your password (ends every web session of yours; tokens keep working)."""
    user = service.get_user(session, me.id)
    service.change_password(
        session,
        user,
        current=body.current_password,
        new=body.new_password,
        actor=actor,
        lockout=lockout,
    )


@router.get("/me/tokens")
def my_tokens(user: CurrentUser, session: ReadSession) -> list[TokenOut]:
    """Your API tokens, newest first."""
    return [TokenOut.model_validate(t) for t in tokens.list_tokens(session, user.id)]


@router.post("/me/tokens", status_code=status.HTTP_201_CREATED, responses=responses(429))
def mint_token(
    body: TokenIn, me: CurrentUser, session: WriteSession, actor: ActorDep, lockout: LockoutDep
) -> TokenCreated:
    """A new named token; asks for your password (a stolen token cannot mint more)."""
    token, value = service.mint_token(
        session,
        service.get_user(session, me.id),
        name=body.name,
        expires_days=body.expires_days,
        password=body.password,
        actor=actor,
        lockout=lockout,
    )
    return TokenCreated(token=TokenOut.model_validate(token), value=value)


@router.delete("/me/tokens/{token_id}", responses=responses(404), **NO_CONTENT)
def revoke_my_token(
    token_id: PathId, me: CurrentUser, session: WriteSession, actor: ActorDep
) -> None:
    """Revoke one of your tokens (it stops working at once)."""
    token = tokens.get_token(session, token_id, owner=me)
    if token.user_id != me.id:  # an admin revokes others' tokens under /users
        raise NotFound(f"token {token_id} not found")
    service.revoke_token(session, token, actor=actor)


@router.get("/users", responses=responses(403))
def list_users(_: AdminUser, session: ReadSession) -> list[UserOut]:
    """Every user (admins only)."""
    return [UserOut.of(u) for u in service.list_users(session)]


@router.post("/users", status_code=status.HTTP_201_CREATED, responses=responses(403, 409))
def create_user(body: UserIn, _: AdminUser, session: WriteSession, actor: ActorDep) -> UserCreated:
    """Add a user; without a password the account is API-only."""
    user, token = service.create_user(
        session, name=body.name, role=body.role, password=body.password, actor=actor
    )
    return UserCreated(user=UserOut.of(user), token=token)


@router.patch("/users/{user_id}", responses=responses(403, 404))
def update_user(
    user_id: PathId, body: UserPatch, _: AdminUser, session: WriteSession, actor: ActorDep
) -> UserOut:
    """Change a user's role, or disable / re-enable the account."""
    user = service.get_user(session, user_id)
    if body.role is not None:
        service.set_role(session, user, body.role, actor=actor)
    if body.disabled is not None:
        service.set_disabled(session, user, body.disabled, actor=actor)
    return UserOut.of(user)


@router.post("/users/{user_id}/password", responses=responses(403, 404), **NO_CONTENT)
def reset_password(
    user_id: PathId, body: PasswordReset, _: AdminUser, session: WriteSession, actor: ActorDep
) -> None:
    """Set a user's password (ends their web sessions; optionally revokes their tokens)."""
    user = service.get_user(session, user_id)
    service.reset_password(
        session, user, body.password, revoke_tokens=body.revoke_tokens, actor=actor
    )


@router.delete("/users/{user_id}", responses=responses(403, 404), **NO_CONTENT)
def delete_user(user_id: PathId, _: AdminUser, session: WriteSession, actor: ActorDep) -> None:
    """Delete a user: no more sign-in or tokens; their labels stay, attributed."""
    service.delete_user(session, service.get_user(session, user_id), actor=actor)


@router.get("/users/{user_id}/tokens", responses=responses(403, 404))
def user_tokens(user_id: PathId, _: AdminUser, session: ReadSession) -> list[TokenOut]:
    """A user's tokens (admins only)."""
    user = service.get_user(session, user_id)
    return [TokenOut.model_validate(t) for t in tokens.list_tokens(session, user.id)]


@router.delete("/users/{user_id}/tokens/{token_id}", responses=responses(403, 404), **NO_CONTENT)
def revoke_token(
    user_id: PathId, token_id: PathId, admin: AdminUser, session: WriteSession, actor: ActorDep
) -> None:
    """Revoke any user's token (admins only)."""
    token = tokens.get_token(session, token_id, owner=admin)
    if token.user_id != user_id:
        raise NotFound(f"token {token_id} not found")
    service.revoke_token(session, token, actor=actor)
