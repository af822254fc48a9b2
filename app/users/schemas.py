"""API shapes of users and tokens (a token's digest is never shown; its value only once)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.fields import Text
from app.users.tokens import MAX_EXPIRY_DAYS

if TYPE_CHECKING:
    from app.models import User

Password = Annotated[str, Field(max_length=1000)]
RoleName = Literal["admin", "annotator"]


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    role: RoleName
    created_at: datetime
    disabled: bool = Field(description="Disabled accounts cannot sign in or use tokens.")
    has_password: bool = Field(description="False for API-only accounts (no web sign-in).")

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls.model_validate(
            {
                **{k: getattr(user, k) for k in ("id", "name", "role", "created_at")},
                "disabled": user.disabled_at is not None,
                "has_password": user.password_hash is not None,
            }
        )


class UserIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    name: Annotated[Text, Field(min_length=1, max_length=100)]
    role: RoleName = "annotator"
    password: Password | None = Field(
        default=None, description="Omit for an API-only account (it cannot sign in on the web)."
    )


class UserCreated(BaseModel):
    user: UserOut
    token: str = Field(description="The user's first API token, shown only this once.")


class UserPatch(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    role: RoleName | None = None
    disabled: bool | None = Field(
        default=None, description="true ends the user's sessions and stops their tokens."
    )


class PasswordReset(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    password: Password
    revoke_tokens: bool = Field(default=False, description="Also revoke every API token.")


class PasswordChange(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    current_password: Password
    new_password: Password


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = Field(description="To the minute.")


class TokenIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    name: Annotated[Text, Field(min_length=1, max_length=100)]
    expires_days: Annotated[int, Field(ge=1, le=MAX_EXPIRY_DAYS)] | None = None
    password: Password = Field(description="Your password: minting a token asks for it again.")


class TokenCreated(BaseModel):
    token: TokenOut
    value: str = Field(description="The token, shown only this once.")
