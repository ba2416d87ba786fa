"""Request and response bodies of the identity routes; the handlers validate with these and /openapi.json
describes them, so the two cannot drift apart."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.config import JsonDict

from core.users.normalize import EMAIL_PATTERN, USERNAME_PATTERN
from webserver.schemas.inputs import InputModel

Password = Field(min_length=8, max_length=128, description="8 to 128 characters, never truncated")
Name = Field(default=None, max_length=255)


class _In(InputModel):
    # Unknown fields, privileged ones included (id, is_active, levels, verification flags), are ignored.
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)


Email = Field(max_length=320, pattern=EMAIL_PATTERN, description="an email address")


def one_of_present(*names: str, min_length: int = 1) -> JsonDict:
    """JSON Schema for "at least one of these fields, as a string", which the model's validator enforces."""
    return {
        "anyOf": [
            {"required": [name], "properties": {name: {"type": "string", "minLength": min_length}}} for name in names
        ]
    }


class RegisterIn(_In):
    email: str = Email
    password: str = Password
    first_name: str | None = Name
    last_name: str | None = Name


class SignupIn(_In):
    username: str = Field(pattern=USERNAME_PATTERN, description="3 to 50 of A-Z a-z 0-9 _ . -")
    email: str = Email
    password: str = Password
    first_name: str | None = Name
    last_name: str | None = Name


class LoginIn(_In):
    model_config = ConfigDict(extra="ignore", json_schema_extra=one_of_present("email", "username"))

    email: str | None = Field(default=None, max_length=320)
    username: str | None = Field(default=None, max_length=320, description="a username or an email address")
    password: str = Field(min_length=1, max_length=1024)

    @model_validator(mode="after")
    def _one_login(self) -> LoginIn:
        if not (self.email or self.username):
            raise ValueError("give email or username")
        return self

    @property
    def login(self) -> str:
        return self.email or self.username or ""


class RefreshIn(_In):
    refresh_token: str = Field(min_length=1, max_length=512)


class PasswordChangeIn(_In):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Password


class ProfileUpdateIn(_In):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra=one_of_present(
            "first_name", "last_name", "username", "language", "time_zone", min_length=0
        ),
    )

    first_name: str | None = Name
    last_name: str | None = Name
    username: str | None = Field(default=None, pattern=USERNAME_PATTERN)
    language: str | None = Field(default=None, max_length=16)
    time_zone: str | None = Field(
        default=None, min_length=1, max_length=64, description="IANA name, e.g. Europe/Moscow (case does not matter)"
    )

    @model_validator(mode="after")
    def _something_to_change(self) -> ProfileUpdateIn:
        fields = (self.first_name, self.last_name, self.username, self.language, self.time_zone)
        if all(value is None for value in fields):
            raise ValueError("give at least one of first_name, last_name, username, language, time_zone")
        return self


class TokenOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type
    expires_in: int
    user_id: int


class RegisterOut(TokenOut):
    success: bool = True
    message: str = "User registered successfully"


class RefreshOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type
    expires_in: int


class MessageOut(BaseModel):
    result: Literal["success"] = "success"
    message: str


class LogoutOut(MessageOut):
    revoked_at: datetime


class LogoutAllOut(MessageOut):
    sessions_revoked: int


class PasswordChangeOut(TokenOut):
    result: Literal["success"] = "success"
    message: str = "Password changed; every other session was signed out"


class SessionOut(BaseModel):
    id: str
    method: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    ip: str | None
    user_agent: str | None
    current: bool


class SessionsOut(BaseModel):
    sessions: list[SessionOut]


class UserMeOut(BaseModel):
    id: int
    username: str | None
    email: str | None
    first_name: str | None
    last_name: str | None
    created_at: datetime
    updated_at: datetime
    telegram_id: int | None
    language: str | None
    email_verified: bool
    is_active: bool


class CheckOut(BaseModel):
    result: Literal["success"] = "success"
    user_id: int
    username: str | None
    telegram_id: int | None


class ProfileOut(BaseModel):
    id: int
    telegram_id: int | None
    username_tg: str | None = Field(validation_alias="telegram_username")
    username: str | None
    email: str | None
    email_verified: bool
    first_name: str | None
    last_name: str | None
    language: str | None
    is_active: bool
    is_staff: bool
    has_beta_access: bool
    has_alpha_access: bool
    is_bot_suspected: bool
    date_joined: datetime
    last_login: datetime | None
    ethereum_address: str | None = None
    base_address: str | None = None
    ethereum_address_verified: bool = False
    base_address_verified: bool = False
    # The zone of the person's calendar day (their daily claim); None: the deployment's default.
    time_zone: str | None = None


class JwksOut(BaseModel):
    keys: list[dict[str, str]]
