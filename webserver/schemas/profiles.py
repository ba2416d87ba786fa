"""Request and response bodies of the Telegram profile routes (seed 004's /profiles, /messages and /utils/me)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from webserver.schemas.auth import UserMeOut
from webserver.schemas.inputs import InputModel

Phone = Field(min_length=1, max_length=32, description="The account's number in international format, e.g. +4420...")


class PhoneIn(InputModel):
    phone: str = Phone


class PhoneQuery(InputModel):
    phone: str = Phone


class CodeIn(InputModel):
    phone: str = Phone
    code: str = Field(min_length=1, max_length=16, description="The code Telegram sent to the account")


class PasswordIn(InputModel):
    phone: str = Phone
    password: str = Field(min_length=1, max_length=256, description="The account's cloud password (2FA)")


class SendIn(InputModel):
    phone: str = Phone
    text: str = Field(min_length=1, max_length=4096)
    tg_receiver: str | int = Field(description="A numeric id (users, -100... for channels) or a @username")


class DialogsIn(InputModel):
    phone: str = Phone
    offset: int = Field(default=0, ge=0, le=100000, description="Dialogs to skip (the previous page's next_offset)")
    limit: int = Field(default=20, ge=1, le=100)


class ProfileOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    phone: str = Field(description="Masked: the first two and last two digits")
    telegram_id: int
    first_name: str | None
    last_name: str | None
    username: str | None
    state: Literal["active", "revoked"] = Field(description="`revoked`: signed out at Telegram; sign in again")
    unread_total: int | None = Field(description="Unread messages, when Telegram could be asked (cached briefly)")
    created_at: datetime
    last_used_at: datetime | None


class ProfilesOut(BaseModel):
    profiles: list[ProfileOut]


class CodeSentOut(BaseModel):
    status: Literal["code_sent"] = "code_sent"
    code_sent: bool = True
    phone: str
    delivery: str = Field(description="Where Telegram sent the code: app, sms, call...")
    expires_in: int = Field(description="Seconds left to submit the code")
    next_step: Literal["code"] = "code"


class LinkedOut(BaseModel):
    status: Literal["linked"] = "linked"
    profile: ProfileOut


class DialogOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    title: str
    username: str | None
    unread_count: int
    last_message_at: datetime | None
    pinned: bool
    archived: bool


class DialogsOut(BaseModel):
    dialogs: list[DialogOut]
    offset: int
    next_offset: int | None = Field(description="Pass as `offset` for the next page; null on the last page")


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    dialog_id: int
    sender_id: int | None
    date: datetime
    text: str
    outgoing: bool
    media: str | None


class UnreadDialogOut(BaseModel):
    dialog: DialogOut
    messages: list[MessageOut]


class UnreadOut(BaseModel):
    profile_id: int
    total: int
    dialogs: list[UnreadDialogOut]


class SentOut(BaseModel):
    status: Literal["sent"] = "sent"
    id: int
    dialog_id: int
    date: datetime


class RemovedOut(BaseModel):
    status: Literal["removed"] = "removed"
    id: int


class UtilsMeOut(BaseModel):
    user: UserMeOut
    profiles: list[ProfileOut]


class PageCodeIn(InputModel):
    code: str = Field(min_length=1, max_length=64, description="The one-time code of the bot's link (URL fragment)")


class PageSessionOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int
