"""Bodies and answers of the admin routes (seed 003's field names where it has them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, StrictBool

from webserver.schemas.inputs import InputModel


class AdminUserOut(BaseModel):
    id: int
    telegram_id: int | None
    username_tg: str | None = Field(validation_alias="telegram_username")
    username: str | None
    email: str | None
    first_name: str | None
    last_name: str | None
    is_active: bool
    full_permissions_api: bool
    is_staff: bool
    has_beta_access: bool
    has_alpha_access: bool
    is_bot_suspected: bool
    date_joined: datetime
    last_login: datetime | None


class UsersQuery(InputModel):
    page: int = Field(default=1, ge=1, le=1_000_000)
    page_size: int = Field(default=50, ge=1, description="capped by access.max_page_size (422 above it)")
    level: Literal["full_permissions_api", "staff", "beta", "alpha"] | None = None
    is_active: bool | None = None
    is_bot_suspected: bool | None = None
    search: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="digits: id or Telegram id; @name: username prefix; an email; else a name prefix",
    )
    sort: Literal["id", "-id", "date_joined", "-date_joined"] = "-id"


class UsersOut(BaseModel):
    users: list[AdminUserOut]
    page: int
    page_size: int
    has_more: bool


class UserPatchIn(InputModel):
    """Only the fields given change; at least one."""

    full_permissions_api: StrictBool | None = None
    is_staff: StrictBool | None = None
    has_beta_access: StrictBool | None = None
    has_alpha_access: StrictBool | None = None
    is_active: StrictBool | None = None
    is_bot_suspected: StrictBool | None = None


class NewUsersQuery(InputModel):
    hours: int = Field(default=24, ge=1, le=744)


class NewUserOut(BaseModel):
    id: int
    telegram_id: int | None
    username: str | None
    date_joined: datetime
    referred_by_telegram_id: int | None


class NewUsersOut(BaseModel):
    result: Literal["success"] = "success"
    data: list[NewUserOut]


class AuditQuery(InputModel):
    page: int = Field(default=1, ge=1, le=1_000_000)
    page_size: int = Field(default=50, ge=1, description="capped by access.max_page_size (422 above it)")
    actor_id: int | None = Field(default=None, ge=1, lt=2**31)
    target_id: int | None = Field(default=None, ge=1, lt=2**31)


class AuditEntryOut(BaseModel):
    id: int
    created_at: datetime
    actor_id: int | None
    face: str
    action: str
    target_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None


class AuditOut(BaseModel):
    entries: list[AuditEntryOut]
    page: int
    page_size: int
    has_more: bool
