"""Signed service routes under /api/v1: what outside bots call for their Telegram users (seeds 000 and 003).

A bare Telegram id proves nothing, so every route here first checks the caller's signature (docs/signed-calls.md)
on the raw body, and only then parses the body or the query. That is why the operations declare no body or query
model for the generic wrapper, which would parse before the handler runs; the fields are listed in each
description instead.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, TypeVar

from aiohttp import web
from multidict import MultiMapping
from pydantic import BaseModel

from core.auth.service import ClientInfo, TokenPair
from core.users.dto import TelegramProfile
from webserver.api import Api, invalid, model_response, parse_body, validate
from webserver.keys import CLOCK, SERVICES
from webserver.routes.service_schemas import (
    ChatIn,
    CodeOut,
    ConfirmIn,
    ConfirmOut,
    ServiceTokenOut,
    SignupTokens,
    TelegramRegisterIn,
    TelegramRegisterOut,
    TelegramSignupData,
    TelegramSignupIn,
    TelegramSignupOut,
)
from webserver.security import authenticate, request_ip
from webserver.signed import SIGNING_HEADERS_DOC, require_signature

PREFIX = "/api/v1"
TAGS = ["service"]
M = TypeVar("M", bound=BaseModel)

# auth_sessions.method is 32 characters; a client id may be 64.
_METHOD_LIMIT = 32
_METHOD_PREFIX = "service:"


def session_method(client_id: str) -> str:
    """How sessions opened for a client are labelled in the session list; cut to fit, it stays recognisable."""
    return (_METHOD_PREFIX + client_id)[:_METHOD_LIMIT]


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


def _client(request: web.Request) -> ClientInfo:
    return ClientInfo(ip=request_ip(request), user_agent=request.headers.get("User-Agent"))


def _single_values(query: MultiMapping[str]) -> dict[str, str]:
    result: dict[str, str] = {}
    for key in query:
        values = query.getall(key)
        if len(values) > 1:
            raise invalid([key], "Repeated field", "repeated")
        result[key] = values[0]
    return result


async def query_or_body(request: web.Request, model: type[M]) -> M:
    """Seed 000 sends fields in the query string, the Python client as JSON; either is fine, not both at once."""
    raw = await request.read()
    if request.query:
        if raw.strip():
            raise invalid([], "Send the fields in the query string or in the JSON body, not in both", "ambiguous")
        return validate(model, _single_values(request.query))
    return await parse_body(request, model)


def _token_out(pair: TokenPair) -> ServiceTokenOut:
    return ServiceTokenOut(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
        user_id=pair.user_id,
    )


async def _token_for_chat(request: web.Request, client_id: str, chat_id: int) -> web.StreamResponse:
    pair = await request.app[SERVICES].identity.session_for_telegram(
        chat_id, method=session_method(client_id), client=_client(request)
    )
    return model_response(_token_out(pair))


async def telegram_signup(request: web.Request, data: dict[str, Any]) -> web.StreamResponse:
    """The signed half of POST /auth/register (seed 003); its route decides by the presence of `telegram_id`."""
    client_id = await require_signature(request)
    body = validate(TelegramSignupIn, data)
    services = request.app[SERVICES]
    referral = await services.identity.referral_payload_of(body.referred_by_id, own_telegram_id=body.telegram_id)
    result = await services.identity.sign_in_trusted(
        TelegramProfile(
            telegram_id=body.telegram_id,
            first_name=body.first_name,
            last_name=body.last_name,
            username=body.username_tg,
        ),
        referral=referral,
        method=session_method(client_id),
        client=_client(request),
    )
    return model_response(
        TelegramSignupOut(
            data=TelegramSignupData(
                created=result.created,
                user_id=result.user.id,
                token=SignupTokens(access=result.tokens.access_token, refresh=result.tokens.refresh_token),
                referred_by_telegram_id=await services.identity.referrer_telegram_id(result.user.id),
            )
        )
    )


def create_api() -> Api:
    api = Api(title="service", version="")

    @api.route(
        "POST",
        f"{PREFIX}/auth/token/get",
        summary="A token for a Telegram user (signed)",
        description=_describe(
            "Opens a session for the user with this Telegram id and returns its tokens; never creates a user "
            "(404 USER_NOT_FOUND). JSON body:",
            fields_doc(ChatIn),
        ),
        tags=TAGS,
        response=ServiceTokenOut,
        documented_body=ChatIn,
        rate="service",
        errors=[401, 403, 404, 413, 415, 422],
    )
    async def token_get(request: web.Request) -> web.StreamResponse:
        client_id = await require_signature(request)
        body = await parse_body(request, ChatIn)
        return await _token_for_chat(request, client_id, body.chat_id)

    @api.route(
        "POST",
        f"{PREFIX}/auth/token/refresh-telegram",
        summary="A new token for a Telegram user (signed)",
        description=_describe(
            "The same as /auth/token/get: a new session for the user with this Telegram id. The field comes in "
            "the query string (`?chat_id=`) or in a JSON body, not in both:",
            fields_doc(ChatIn),
        ),
        tags=TAGS,
        response=ServiceTokenOut,
        documented_body=ChatIn,
        rate="service",
        errors=[401, 403, 404, 413, 415, 422],
    )
    async def token_refresh_telegram(request: web.Request) -> web.StreamResponse:
        client_id = await require_signature(request)
        body = await query_or_body(request, ChatIn)
        return await _token_for_chat(request, client_id, body.chat_id)

    @api.route(
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
        errors=[401, 403, 413, 415, 422],
    )
    async def telegram_register(request: web.Request) -> web.StreamResponse:
        client_id = await require_signature(request)
        body = await query_or_body(request, TelegramRegisterIn)
        result = await request.app[SERVICES].identity.sign_in_trusted(
            TelegramProfile(
                telegram_id=body.chat_id,
                first_name=body.first_name,
                last_name=body.last_name,
                username=body.username,
            ),
            referral=None,
            method=session_method(client_id),
            client=_client(request),
        )
        return model_response(
            TelegramRegisterOut(
                created=result.created,
                user_id=result.user.id,
                jwt_token=result.tokens.access_token,
                refresh_token=result.tokens.refresh_token,
                expires_in=result.tokens.expires_in,
                message="User registered" if result.created else "User already registered",
            )
        )

    @api.route(
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
        errors=[401, 413, 415, 422],
    )
    async def telegram_start(request: web.Request) -> web.StreamResponse:
        await require_signature(request)
        body = await parse_body(request, ChatIn)
        issued = await request.app[SERVICES].identity.issue_code_for_telegram(body.chat_id)
        return model_response(CodeOut(code=issued.code, expires_in=issued.expires_in))

    @api.route(
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
        errors=[401, 403, 404, 409, 413, 415, 422],
    )
    async def telegram_confirm(request: web.Request) -> web.StreamResponse:
        client_id = await require_signature(request)
        authenticated = await authenticate(request)
        body = await parse_body(request, ConfirmIn)
        profile = None
        if body.username or body.first_name or body.last_name:
            profile = TelegramProfile(
                telegram_id=body.chat_id,
                first_name=body.first_name,
                last_name=body.last_name,
                username=body.username,
            )
        services = request.app[SERVICES]
        user = await services.identity.link_for_account(
            code=body.code, user_id=authenticated.user.id, telegram_id=body.chat_id, profile=profile
        )
        pair = await services.auth.open_session(user.id, method=session_method(client_id), client=_client(request))
        expires_at = request.app[CLOCK].now() + timedelta(seconds=pair.expires_in)
        return model_response(ConfirmOut(user_id=user.id, jwt_token=pair.access_token, expires_at=expires_at))

    return api
