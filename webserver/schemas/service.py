"""Bodies of the signed service routes, in the shapes outside bots already send. Handlers validate with these only
after the signature matched, so nothing here ever answers an unsigned request."""

from __future__ import annotations

import inspect
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    RootModel,
    StringConstraints,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from core.telegram.user_data import MAX_USER_ID
from webserver.schemas.auth import RegisterIn, RegisterOut, TokenOut
from webserver.schemas.inputs import InputModel


def _not_bool(value: Any) -> Any:
    # JSON true would otherwise pass as the integer 1, i.e. somebody else's Telegram id.
    if isinstance(value, bool):
        raise ValueError("must be an integer, not a boolean")
    return value


def _blank_is_none(value: Any) -> Any:
    # Some outside bots send every field in the query string, where an absent name arrives as "".
    if isinstance(value, str) and not value.strip():
        return None
    return value


TelegramId = Annotated[
    int,
    Field(ge=1, le=MAX_USER_ID, description="A Telegram user id, which is also the id of the private chat with it"),
    BeforeValidator(_not_bool),
]
Text = Annotated[Annotated[str, StringConstraints(max_length=255)] | None, BeforeValidator(_blank_is_none)]


class _In(InputModel):
    model_config = ConfigDict(extra="ignore")


class ChatIn(_In):
    chat_id: TelegramId


class TelegramRegisterIn(_In):
    """The query string (or a JSON body) of POST /auth/telegram/register."""

    chat_id: TelegramId
    username: Text = None
    first_name: Text = None
    last_name: Text = None


class TelegramSignupIn(_In):
    """POST /auth/register with a Telegram body."""

    telegram_id: TelegramId
    username_tg: Text = None
    first_name: Text = None
    last_name: Text = None
    referred_by_id: TelegramId | None = Field(
        default=None,
        description="The referrer's Telegram id; applied only when this call creates the user, never to oneself",
    )


class ConfirmIn(_In):
    code: str = Field(min_length=1, max_length=128)
    chat_id: TelegramId
    username: Text = None
    first_name: Text = None
    last_name: Text = None


class ServiceTokenOut(TokenOut):
    success: Literal[True] = True


class TelegramRegisterOut(BaseModel):
    success: Literal[True] = True
    created: bool
    user_id: int
    jwt_token: str = Field(description="An access token of a new session")
    refresh_token: str
    expires_in: int
    message: str


class CodeOut(BaseModel):
    code: str
    expires_in: int


class ConfirmOut(BaseModel):
    success: Literal[True] = True
    user_id: int
    jwt_token: str = Field(description="An access token of a new session of the account now linked")
    expires_at: datetime


class SignupTokens(BaseModel):
    access: str
    refresh: str


class TelegramSignupData(BaseModel):
    created: bool
    user_id: int
    token: SignupTokens
    referred_by_telegram_id: int | None = Field(description="The Telegram id of the user's referrer, if any")


class TelegramSignupOut(BaseModel):
    result: Literal["success"] = "success"
    data: TelegramSignupData


class RegisterAnyIn(RootModel[dict[str, Any]]):
    """Without `telegram_id`: the email registration (`email` and `password` required). With it: the signed
    Telegram registration (only `telegram_id` required)."""

    # Accepts any JSON object on purpose: the route picks the shape and validates it with RegisterIn or, only after
    # the signature matched, TelegramSignupIn. Validating here would answer an unsigned Telegram body with a 422
    # instead of the 401, and would change the email registration's errors. The schema below shows both shapes.
    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        email, telegram = RegisterIn.model_json_schema(), TelegramSignupIn.model_json_schema()
        return {
            "title": cls.__name__,
            "description": inspect.cleandoc(cls.__doc__ or ""),
            "type": "object",
            "properties": {**email["properties"], **telegram["properties"]},
            "anyOf": [{"required": email["required"]}, {"required": telegram["required"]}],
        }


# Clients of the email registration have always seen this body called RegisterIn in /openapi.json.
RegisterAnyIn.__name__ = "RegisterIn"


class RegisterAnyOut(RootModel[RegisterOut | TelegramSignupOut]):
    """RegisterOut for an email registration, TelegramSignupOut for a signed Telegram one."""
