"""Sign-up, sign-in, token refresh, sessions and passwords under /api/v1."""

from __future__ import annotations

import sys

from aiohttp import web

from core.auth import password_flows
from core.auth.service import AuthService
from core.identity.service import IdentityService
from core.users.dto import TelegramProfile
from webserver.api import UOW, Api, model_response, respond, route, validate
from webserver.http import NO_STORE, client_info
from webserver.keys import CONTAINER
from webserver.schemas.auth import (
    JwksOut,
    LoginIn,
    LogoutAllOut,
    LogoutOut,
    PasswordChangeIn,
    PasswordChangeOut,
    RefreshIn,
    RefreshOut,
    RegisterIn,
    RegisterOut,
    SessionOut,
    SessionsOut,
    SignupIn,
    TokenOut,
)
from webserver.schemas.service import (
    RegisterAnyIn,
    RegisterAnyOut,
    SignupTokens,
    TelegramSignupData,
    TelegramSignupIn,
    TelegramSignupOut,
)
from webserver.security import AUTH
from webserver.signed import SIGNING_HEADERS_DOC, require_signature, session_method

PREFIX = "/api/v1"
TAGS = ["auth"]


def create_api() -> Api:
    return Api.collect(sys.modules[__name__])


@route(
    "POST",
    f"{PREFIX}/auth/register",
    summary="Register with email and password, or register a Telegram user (signed)",
    aliases=["/auth/register"],
    tags=TAGS,
    body=RegisterAnyIn,
    response=RegisterAnyOut,
    rate="auth",
    errors=[401, 409],
    description="Two bodies share this route. Without `telegram_id` (RegisterIn): creates an email account and "
    "signs it in (RegisterOut); 409 when the email is taken. With `telegram_id` (TelegramSignupIn): only for "
    "registered outside bots, creates or finds that Telegram user and returns tokens of a new session "
    "(TelegramSignupOut); `referred_by_id` is the referrer's Telegram id, applied only when the user is created."
    f"\n\nThe Telegram body only: {SIGNING_HEADERS_DOC}",
)
async def register(request: web.Request, shape: RegisterAnyIn) -> web.StreamResponse:
    # Only a JSON object so far: the Telegram shape is validated after its signature matched.
    if "telegram_id" in shape.root:
        return await _telegram_signup(request, shape)
    body = validate(RegisterIn, shape.root)
    _, pair = await password_flows.register_email(
        request.app[CONTAINER],
        email=body.email,
        password=body.password,
        first_name=body.first_name,
        last_name=body.last_name,
        username=None,
        client=client_info(request),
    )
    return respond(RegisterOut, pair, headers=NO_STORE)


async def _telegram_signup(request: web.Request, shape: RegisterAnyIn) -> web.StreamResponse:
    client_id = await require_signature(request)
    body = validate(TelegramSignupIn, shape.root)
    profile = TelegramProfile(
        telegram_id=body.telegram_id, first_name=body.first_name, last_name=body.last_name, username=body.username_tg
    )
    async with request.app[CONTAINER].unit_of_work(write=True) as uow:
        identity = IdentityService(uow)
        referral = await identity.referral_payload_of(body.referred_by_id, own_telegram_id=body.telegram_id)
        result = await identity.sign_in_trusted(
            profile, referral=referral, method=session_method(client_id), client=client_info(request)
        )
        referrer = await identity.referrer_telegram_id(result.user.id)
    data = TelegramSignupData(
        created=result.created,
        user_id=result.user.id,
        token=SignupTokens(access=result.tokens.access_token, refresh=result.tokens.refresh_token),
        referred_by_telegram_id=referrer,
    )
    return model_response(TelegramSignupOut(data=data), headers=NO_STORE)


@route(
    "POST",
    f"{PREFIX}/auth/signup",
    summary="Sign up with a username",
    tags=TAGS,
    body=SignupIn,
    form=True,
    response=TokenOut,
    status=201,
    rate="auth",
    errors=[409],
)
async def signup(request: web.Request, body: SignupIn) -> web.StreamResponse:
    _, pair = await password_flows.register_email(
        request.app[CONTAINER],
        email=body.email,
        password=body.password,
        first_name=body.first_name,
        last_name=body.last_name,
        username=body.username,
        client=client_info(request),
    )
    return respond(TokenOut, pair, status=201, headers=NO_STORE)


@route(
    "POST",
    f"{PREFIX}/auth/login",
    summary="Sign in",
    aliases=["/auth/login"],
    tags=TAGS,
    body=LoginIn,
    form=True,
    response=TokenOut,
    rate="auth",
    errors=[401, 403],
    description="JSON {email, password} or a form {username, password}, where username may be the email. "
    "401 for a wrong login or password; 403 for a disabled account. Repeated failures get growing delays "
    "(429 with Retry-After).",
)
async def login(request: web.Request, body: LoginIn) -> web.StreamResponse:
    _, pair = await password_flows.login(
        request.app[CONTAINER], login=body.login, password=body.password, client=client_info(request)
    )
    return respond(TokenOut, pair, headers=NO_STORE)


@route(
    "POST",
    f"{PREFIX}/auth/refresh",
    summary="Rotate a refresh token",
    tags=TAGS,
    body=RefreshIn,
    response=RefreshOut,
    rate="auth",
    errors=[401],
    uow="write",
    aliases=[f"{PREFIX}/auth/refresh-token", "/refresh"],
    description="Every refresh returns a new refresh token; reusing an old one ends the session, except within "
    "a short grace window where the same successor is returned.",
)
async def refresh(request: web.Request, body: RefreshIn) -> web.StreamResponse:
    pair = await AuthService(request[UOW]).refresh(body.refresh_token, client_info(request))
    return respond(RefreshOut, pair, headers=NO_STORE)


@route(
    "POST",
    f"{PREFIX}/auth/logout",
    summary="Sign out this session",
    aliases=["/logout"],
    tags=TAGS,
    auth=True,
    response=LogoutOut,
    uow="write",
)
async def logout(request: web.Request) -> web.StreamResponse:
    principal = request[AUTH].principal
    revoked_at = await AuthService(request[UOW]).logout(
        user_id=principal.user_id,
        session_id=principal.session_id,
        jti=principal.jti,
        expires_at=principal.expires_at,
    )
    return model_response(LogoutOut(message="Logged out successfully", revoked_at=revoked_at))


@route(
    "POST",
    f"{PREFIX}/auth/logout-all",
    summary="Sign out everywhere",
    tags=TAGS,
    auth=True,
    response=LogoutAllOut,
    uow="write",
)
async def logout_all(request: web.Request) -> web.StreamResponse:
    count = await AuthService(request[UOW]).revoke_all(request[AUTH].user.id, reason="logout_all")
    return model_response(LogoutAllOut(message="Logged out everywhere", sessions_revoked=count))


@route(
    "GET",
    f"{PREFIX}/auth/sessions",
    summary="Signed-in sessions",
    tags=TAGS,
    auth=True,
    response=SessionsOut,
    uow="read",
)
async def sessions(request: web.Request) -> web.StreamResponse:
    auth = request[AUTH]
    found = await AuthService(request[UOW]).list_sessions(
        user_id=auth.user.id, current_session=auth.principal.session_id
    )
    return model_response(SessionsOut(sessions=[SessionOut.model_validate(s, from_attributes=True) for s in found]))


@route(
    "DELETE",
    f"{PREFIX}/auth/sessions/{{session_id}}",
    summary="Sign out one session",
    tags=TAGS,
    auth=True,
    response=LogoutAllOut,
    errors=[404],
    uow="write",
)
async def delete_session(request: web.Request) -> web.StreamResponse:
    await AuthService(request[UOW]).revoke_session(
        user_id=request[AUTH].user.id, session_id=request.match_info["session_id"]
    )
    return model_response(LogoutAllOut(message="Session signed out", sessions_revoked=1))


@route(
    "POST",
    f"{PREFIX}/auth/password",
    summary="Change the password",
    tags=TAGS,
    auth=True,
    body=PasswordChangeIn,
    response=PasswordChangeOut,
    errors=[409],
    description="Needs the current password. Every session, this one included, is signed out; the "
    "answer carries tokens of a new session.",
)
async def change_password(request: web.Request, body: PasswordChangeIn) -> web.StreamResponse:
    pair = await password_flows.change_password(
        request.app[CONTAINER],
        user_id=request[AUTH].user.id,
        current_password=body.current_password,
        new_password=body.new_password,
        client=client_info(request),
    )
    return respond(PasswordChangeOut, pair, headers=NO_STORE)


@route(
    "GET",
    "/.well-known/jwks.json",
    summary="Public keys that verify access tokens",
    tags=TAGS,
    response=JwksOut,
    rate=None,
    description="Empty with HS256 (secrets are never published); the EdDSA keys otherwise.",
)
async def jwks(request: web.Request) -> web.StreamResponse:
    return web.json_response(request.app[CONTAINER].codec.jwks(), headers={"Cache-Control": "public, max-age=300"})
