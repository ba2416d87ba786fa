"""Request and response bodies of the Telegram routes (Mini App and Login Widget sign-in, linking, referrals)."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

from core.telegram.initdata import MAX_INIT_DATA_LENGTH
from webserver.schemas.auth import one_of_present
from webserver.schemas.inputs import InputModel

_Query = Field(default=None, max_length=MAX_INIT_DATA_LENGTH)


class _In(InputModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)


class WebAppIn(_In):
    init_data: str = Field(
        min_length=1,
        max_length=MAX_INIT_DATA_LENGTH,
        validation_alias=AliasChoices("init_data", "initData"),
        description="Telegram.WebApp.initData exactly as the Mini App received it (key `initData` also accepted)",
    )


class WebAppQuery(_In):
    """The initData fields, for the description only: the handler verifies the raw query string itself."""

    # Every field optional: which one is missing or wrong is decided, with one answer, by the verification.
    model_config = ConfigDict(extra="allow")

    query_id: str | None = _Query
    user: str | None = Field(default=None, max_length=MAX_INIT_DATA_LENGTH, description="JSON of the Telegram user")
    receiver: str | None = _Query
    chat: str | None = _Query
    chat_type: str | None = _Query
    chat_instance: str | None = _Query
    start_param: str | None = _Query
    can_send_after: str | None = _Query
    auth_date: str | None = _Query
    signature: str | None = _Query
    hash: str | None = _Query


class LoginWidgetQuery(_In):
    """The Login Widget's redirect fields, plus `format=json` for a JSON answer instead of cookie + redirect."""

    model_config = ConfigDict(extra="allow")

    id: str | None = Field(default=None, max_length=32)
    first_name: str | None = Field(default=None, max_length=2048)
    last_name: str | None = Field(default=None, max_length=2048)
    username: str | None = Field(default=None, max_length=2048)
    photo_url: str | None = Field(default=None, max_length=2048)
    auth_date: str | None = Field(default=None, max_length=32)
    hash: str | None = Field(default=None, max_length=128)
    format: Literal["json", "redirect"] | None = Field(
        default=None, description="json: answer with tokens instead of setting the cookie and redirecting"
    )


class LinkPageQuery(_In):
    code: str | None = Field(default=None, max_length=128, description="the code from the bot's /link")
    lang: str | None = Field(default=None, max_length=16, description="the page's language (en, ru)")


class TelegramUserOut(BaseModel):
    id: int
    telegram_id: int | None
    username_tg: str | None = Field(validation_alias="telegram_username")
    first_name: str | None
    last_name: str | None
    language: str | None


class TelegramSignInOut(BaseModel):
    result: Literal["success"] = "success"
    created: bool = Field(description="true when this sign-in created the user")
    user_id: int
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type
    expires_in: int
    user: TelegramUserOut


class LinkCodeOut(BaseModel):
    code: str = Field(description="single use; open the link (or send /start link_<code> to the bot)")
    expires_in: int
    link: str | None = Field(description="t.me start link; null while the bot's username is unknown")


class ReferralsOut(BaseModel):
    referral_code: str
    referral_link: str | None
    count: int
    referred_by_id: int | None


class MethodsOut(BaseModel):
    methods: list[Literal["telegram", "password"]]
    telegram_id: int | None
    telegram_username: str | None
    email: str | None
    has_password: bool


class LinkConfirmIn(_In):
    model_config = ConfigDict(extra="ignore", json_schema_extra=one_of_present("login", "email"))

    code: str = Field(min_length=1, max_length=128)
    login: str | None = Field(default=None, max_length=320, description="email or username")
    email: str | None = Field(default=None, max_length=320, description="accepted instead of login")
    password: str = Field(min_length=1, max_length=1024)

    @model_validator(mode="after")
    def _one_login(self) -> LinkConfirmIn:
        if not (self.login or self.email):
            raise ValueError("give login or email")
        return self

    @property
    def account(self) -> str:
        return self.login or self.email or ""


class LinkConfirmOut(BaseModel):
    result: Literal["success"] = "success"
    user_id: int
    telegram_id: int | None
