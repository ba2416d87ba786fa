"""Signed service routes under /api/v1: what outside bots call for their Telegram users.

A bare Telegram id proves nothing, so every route here first checks the caller's signature (docs/signed-calls.md)
on the raw body, and only then parses the body or the query. That is why the operations declare no body or query
model for the generic wrapper, which would parse before the handler runs; the fields are listed in each
description instead.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel

from core.auth.service import AuthService
from core.identity.service import IdentityService
from core.users.dto import TelegramProfile
from webserver.api import UOW, Api, invalid, json_object, model_response, respond, route, single_values, validate
from webserver.errors import ApiError
from webserver.http import NO_STORE, client_info
from webserver.keys import CONTAINER
from webserver.schemas.service import (
    ChatIn,
    CodeOut,
    ConfirmIn,
    ConfirmOut,
    ServiceTokenOut,
    TelegramRegisterIn,
    TelegramRegisterOut,
)
from webserver.security import authenticate
from webserver.signed import SIGNING_HEADERS_DOC, require_signature, session_method

PREFIX = "/api/v1"
TAGS = ["service"]
M = TypeVar("M", bound=BaseModel)


def fields_doc(model: type[BaseModel]) -> str:
    """The fields of a model in one line, from its own schema, so the description cannot drift from it."""
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    parts = []
    for name, prop in schema.get("properties", {}).items():
        kinds = [option.get("type", "value") for option in prop.get("anyOf", [prop]) if option.get("type") != "null"]
        parts.append(f"`{name}` ({'/'.join(kinds)}{', required' if name in required else ''})")
    return ", ".join(parts)


def _describe(summary: str, fields: str) -> str:
    return f"{summary}\n\n{fields}\n\n{SIGNING_HEADERS_DOC}"


async def parse_json(request: web.Request, model: type[M]) -> M:
    raw = await request.read()
    if raw and request.content_type != "application/json":
        raise ApiError(415, "Send the body as application/json")
    return validate(model, json_object(raw))


async def query_or_body(request: web.Request, model: type[M]) -> M:
    """Fields in the query string or as JSON, as outside bots send them; either is fine, not both at once."""
    raw = await request.read()
    if request.query:
        if raw.strip():
            raise invalid([], "Send the fields in the query string or in the JSON body, not in both", "ambiguous")
        return validate(model, single_values(request.query))
    if raw and request.content_type != "application/json":
        raise ApiError(415, "Send the body as application/json")
    return validate(model, json_object(raw))


def create_api() -> Api:
    return Api.collect(sys.modules[__name__])


@route(
    "POST",
    f"{PREFIX}/auth/token/get",
    summary="A token for a Telegram user (signed)",
    description=_describe(
        "Opens a session for the user with this Telegram id and returns its tokens; never creates a user "
        "(404 USER_NOT_FOUND). The field comes in a JSON body or in the query string (`?chat_id=`), not in both:",
        fields_doc(ChatIn),
    ),
    tags=TAGS,
    response=ServiceTokenOut,
    documented_body=ChatIn,
    rate="service",
    uow="write",
    errors=[400, 401, 403, 404, 413, 415, 422],
    aliases=[f"{PREFIX}/auth/token/refresh-telegram"],
)
async def token_for_chat(request: web.Request) -> web.StreamResponse:
    client_id = await require_signature(request)
    body = await query_or_body(request, ChatIn)
    uow = request[UOW]
    pair = await IdentityService(uow).session_for_telegram(
        body.chat_id, method=session_method(client_id), client=client_info(request)
    )
    return respond(ServiceTokenOut, pair, headers=NO_STORE)


@route(
    "POST",
    f"{PREFIX}/auth/telegram/register",
    summary="Register or find a Telegram user (signed)",
    description=_describe(
        "Creates the user of this Telegram account when there is none (`created`), updates its names "
        "otherwise, and returns tokens of a new session. Fields in the query string or in a JSON body, not "
        "in both:",
        fields_doc(TelegramRegisterIn),
    ),
    tags=TAGS,
    response=TelegramRegisterOut,
    documented_body=TelegramRegisterIn,
    rate="service",
    uow="write",
    errors=[400, 401, 403, 413, 415, 422],
)
async def telegram_register(request: web.Request) -> web.StreamResponse:
    client_id = await require_signature(request)
    body = await query_or_body(request, TelegramRegisterIn)
    profile = TelegramProfile(
        telegram_id=body.chat_id, first_name=body.first_name, last_name=body.last_name, username=body.username
    )
    uow = request[UOW]
    result = await IdentityService(uow).sign_in_trusted(
        profile, referral=None, method=session_method(client_id), client=client_info(request)
    )
    return model_response(
        TelegramRegisterOut(
            created=result.created,
            user_id=result.user.id,
            jwt_token=result.tokens.access_token,
            refresh_token=result.tokens.refresh_token,
            expires_in=result.tokens.expires_in,
            message="User registered" if result.created else "User already registered",
        ),
        headers=NO_STORE,
    )


@route(
    "POST",
    f"{PREFIX}/auth/telegram/start",
    summary="A linking code for a Telegram chat (signed)",
    description=_describe(
        "Issues a one-time code that links this Telegram chat to an email account once the account's owner "
        "confirms it with POST /auth/telegram/confirm. JSON body:",
        fields_doc(ChatIn),
    ),
    tags=TAGS,
    response=CodeOut,
    documented_body=ChatIn,
    rate="service",
    uow="write",
    errors=[400, 401, 409, 413, 415, 422],
)
async def telegram_start(request: web.Request) -> web.StreamResponse:
    await require_signature(request)
    body = await parse_json(request, ChatIn)
    uow = request[UOW]
    issued = await IdentityService(uow).issue_code_for_telegram(body.chat_id)
    return model_response(CodeOut(code=issued.code, expires_in=issued.expires_in), headers=NO_STORE)


@route(
    "POST",
    f"{PREFIX}/auth/telegram/confirm",
    summary="Link a Telegram chat to the signed-in account (signed)",
    description=_describe(
        "Needs both the bot's signature and the email account's `Authorization: Bearer` token. Redeems the "
        "code from POST /auth/telegram/start for that same chat and links the chat's Telegram account to the "
        "bearer's account (409 when either side is already linked elsewhere; 422 INVALID_CODE for an unknown, "
        "used or expired code; every wrong code counts against the chat's live codes). JSON body:",
        fields_doc(ConfirmIn),
    ),
    tags=TAGS,
    response=ConfirmOut,
    documented_body=ConfirmIn,
    rate="service",
    errors=[400, 401, 403, 404, 409, 413, 415, 422],
)
async def telegram_confirm(request: web.Request) -> web.StreamResponse:
    # The unit of work opens after the caller is authenticated: a first `tma` credential makes its user in a
    # writing unit of its own, and SQLite's writers take turns, so it cannot run inside this one.
    client_id = await require_signature(request)
    authenticated = await authenticate(request)
    body = await parse_json(request, ConfirmIn)
    profile = None
    if body.username or body.first_name or body.last_name:
        profile = TelegramProfile(
            telegram_id=body.chat_id, first_name=body.first_name, last_name=body.last_name, username=body.username
        )
    async with request.app[CONTAINER].unit_of_work(write=True) as uow:
        user = await IdentityService(uow).link_for_account(
            code=body.code, user_id=authenticated.user.id, telegram_id=body.chat_id, profile=profile
        )
        pair = await AuthService(uow).open_session(
            user.id, method=session_method(client_id), client=client_info(request)
        )
        expires_at = uow.clock.now() + timedelta(seconds=pair.expires_in)
    return model_response(
        ConfirmOut(user_id=user.id, jwt_token=pair.access_token, expires_at=expires_at), headers=NO_STORE
    )
