"""Identity routes under /api/v1: the seeds' shapes, with their security flaws fixed."""

from __future__ import annotations

import functools

from aiohttp import web

from core.auth.service import ClientInfo, TokenPair
from core.users.dto import UserDTO
from webserver.api import Api, model_response, validate
from webserver.keys import SERVICES
from webserver.routes.schemas import (
    CheckOut,
    JwksOut,
    LoginIn,
    LogoutAllOut,
    LogoutOut,
    PasswordChangeIn,
    PasswordChangeOut,
    ProfileOut,
    ProfileUpdateIn,
    RefreshIn,
    RefreshOut,
    RegisterIn,
    RegisterOut,
    SessionOut,
    SessionsOut,
    SignupIn,
    TokenOut,
    UserMeOut,
)
from webserver.routes.service import telegram_signup
from webserver.routes.service_schemas import RegisterAnyIn, RegisterAnyOut
from webserver.security import AUTH, request_ip
from webserver.signed import SIGNING_HEADERS_DOC

PREFIX = "/api/v1"
TAGS = ["auth"]


def client_info(request: web.Request) -> ClientInfo:
    return ClientInfo(ip=request_ip(request), user_agent=request.headers.get("User-Agent"))


def token_out(pair: TokenPair) -> TokenOut:
    return TokenOut(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
        user_id=pair.user_id,
    )


def me_out(user: UserDTO) -> UserMeOut:
    return UserMeOut(
        id=user.id,
        username=user.username,
        email=user.email,
        first_name=user.first_name,
        last_name=user.last_name,
        created_at=user.created_at,
        updated_at=user.updated_at,
        telegram_id=user.telegram_id,
        language=user.language,
        email_verified=user.email_verified,
        is_active=user.is_active,
    )


@functools.lru_cache(maxsize=4096)
def me_body(user: UserDTO) -> bytes:
    """The most frequent answer, serialized once per user revision: the DTO is frozen, so a changed user is a
    different cache key and a stale body cannot be served."""
    return me_out(user).model_dump_json().encode()


def profile_out(user: UserDTO) -> ProfileOut:
    return ProfileOut(
        id=user.id,
        telegram_id=user.telegram_id,
        username_tg=user.telegram_username,
        username=user.username,
        email=user.email,
        email_verified=user.email_verified,
        first_name=user.first_name,
        last_name=user.last_name,
        language=user.language,
        is_active=user.is_active,
        date_joined=user.date_joined,
        last_login=user.last_login,
    )


def create_api() -> Api:
    api = Api(title="auth", version="")

    @api.route(
        "POST",
        f"{PREFIX}/auth/register",
        summary="Register with email and password, or register a Telegram user (signed)",
        tags=TAGS,
        body=RegisterAnyIn,
        response=RegisterAnyOut,
        rate="auth",
        errors=[401, 409],
        description="Two bodies share this route. Without `telegram_id` (RegisterIn): creates an email account and "
        "signs it in (RegisterOut); 409 when the email is taken. With `telegram_id` (TelegramSignupIn, seed 003): "
        "only for registered outside bots, creates or finds that Telegram user and returns tokens of a new session "
        "(TelegramSignupOut); `referred_by_id` is the referrer's Telegram id, applied only when the user is created."
        f"\n\nThe Telegram body only: {SIGNING_HEADERS_DOC}",
    )
    async def register(request: web.Request, shape: RegisterAnyIn) -> web.StreamResponse:
        # Only a JSON object so far: the Telegram shape is validated after its signature matched.
        if "telegram_id" in shape.root:
            return await telegram_signup(request, shape.root)
        body = validate(RegisterIn, shape.root)
        _, pair = await request.app[SERVICES].auth.register_email(
            email=body.email,
            password=body.password,
            first_name=body.first_name,
            last_name=body.last_name,
            username=None,
            client=client_info(request),
        )
        return model_response(RegisterOut(**token_out(pair).model_dump()))

    @api.route(
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
        _, pair = await request.app[SERVICES].auth.register_email(
            email=body.email,
            password=body.password,
            first_name=body.first_name,
            last_name=body.last_name,
            username=body.username,
            client=client_info(request),
        )
        return model_response(token_out(pair), status=201)

    @api.route(
        "POST",
        f"{PREFIX}/auth/login",
        summary="Sign in",
        tags=TAGS,
        body=LoginIn,
        form=True,
        response=TokenOut,
        rate="auth",
        errors=[403],
        description="JSON {email, password} or a form {username, password}, where username may be the email. "
        "Repeated failures get growing delays (429 with Retry-After).",
    )
    async def login(request: web.Request, body: LoginIn) -> web.StreamResponse:
        _, pair = await request.app[SERVICES].auth.login(
            login=body.login, password=body.password, client=client_info(request)
        )
        return model_response(token_out(pair))

    refresh_doc = dict(
        summary="Rotate a refresh token",
        tags=TAGS,
        body=RefreshIn,
        response=RefreshOut,
        rate="auth",
        errors=[401],
        description="Every refresh returns a new refresh token; reusing an old one ends the session, except within "
        "a short grace window where the same successor is returned.",
    )

    async def rotate(request: web.Request, body: RefreshIn) -> web.StreamResponse:
        pair = await request.app[SERVICES].auth.refresh(body.refresh_token, client_info(request))
        return model_response(
            RefreshOut(access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in)
        )

    # Seed 000 calls it /refresh, seed 002 /refresh-token; both stay.
    @api.route("POST", f"{PREFIX}/auth/refresh", **refresh_doc)  # type: ignore[arg-type]
    async def refresh(request: web.Request, body: RefreshIn) -> web.StreamResponse:
        return await rotate(request, body)

    @api.route("POST", f"{PREFIX}/auth/refresh-token", **refresh_doc)  # type: ignore[arg-type]
    async def refresh_token(request: web.Request, body: RefreshIn) -> web.StreamResponse:
        return await rotate(request, body)

    @api.route(
        "POST", f"{PREFIX}/auth/logout", summary="Sign out this session", tags=TAGS, auth=True, response=LogoutOut
    )
    async def logout(request: web.Request) -> web.StreamResponse:
        principal = request[AUTH].principal
        revoked_at = await request.app[SERVICES].auth.logout(
            user_id=principal.user_id,
            session_id=principal.session_id,
            jti=principal.jti,
            expires_at=principal.expires_at,
        )
        return model_response(LogoutOut(message="Logged out successfully", revoked_at=revoked_at))

    @api.route(
        "POST",
        f"{PREFIX}/auth/logout-all",
        summary="Sign out everywhere",
        tags=TAGS,
        auth=True,
        response=LogoutAllOut,
    )
    async def logout_all(request: web.Request) -> web.StreamResponse:
        count = await request.app[SERVICES].auth.revoke_all(request[AUTH].user.id, reason="logout_all")
        return model_response(LogoutAllOut(message="Logged out everywhere", sessions_revoked=count))

    @api.route(
        "GET", f"{PREFIX}/auth/sessions", summary="Signed-in sessions", tags=TAGS, auth=True, response=SessionsOut
    )
    async def sessions(request: web.Request) -> web.StreamResponse:
        auth = request[AUTH]
        found = await request.app[SERVICES].auth.list_sessions(
            user_id=auth.user.id, current_session=auth.principal.session_id
        )
        return model_response(SessionsOut(sessions=[SessionOut.model_validate(s, from_attributes=True) for s in found]))

    @api.route(
        "DELETE",
        f"{PREFIX}/auth/sessions/{{session_id}}",
        summary="Sign out one session",
        tags=TAGS,
        auth=True,
        response=LogoutAllOut,
        errors=[404],
    )
    async def delete_session(request: web.Request) -> web.StreamResponse:
        await request.app[SERVICES].auth.revoke_session(
            user_id=request[AUTH].user.id, session_id=request.match_info["session_id"]
        )
        return model_response(LogoutAllOut(message="Session signed out", sessions_revoked=1))

    @api.route(
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
        pair = await request.app[SERVICES].auth.change_password(
            user_id=request[AUTH].user.id,
            current_password=body.current_password,
            new_password=body.new_password,
            client=client_info(request),
        )
        return model_response(PasswordChangeOut(**token_out(pair).model_dump()))

    @api.route("GET", f"{PREFIX}/users/me", summary="The signed-in user", tags=["users"], auth=True, response=UserMeOut)
    async def users_me(request: web.Request) -> web.StreamResponse:
        return web.Response(body=me_body(request[AUTH].user), content_type="application/json")

    @api.route("GET", f"{PREFIX}/auth/check", summary="Is this token valid?", tags=TAGS, auth=True, response=CheckOut)
    async def check(request: web.Request) -> web.StreamResponse:
        user = request[AUTH].user
        return model_response(
            CheckOut(user_id=user.id, username=user.username or user.telegram_username, telegram_id=user.telegram_id)
        )

    @api.route("GET", f"{PREFIX}/auth/profile", summary="Profile", tags=TAGS, auth=True, response=ProfileOut)
    async def get_profile(request: web.Request) -> web.StreamResponse:
        return model_response(profile_out(request[AUTH].user))

    @api.route(
        "PUT",
        f"{PREFIX}/auth/profile",
        summary="Update the profile",
        tags=TAGS,
        auth=True,
        body=ProfileUpdateIn,
        response=ProfileOut,
        errors=[409],
        description="Takes only first_name, last_name, username and language; anything else is ignored.",
    )
    async def put_profile(request: web.Request, body: ProfileUpdateIn) -> web.StreamResponse:
        async with request.app[SERVICES].unit_of_work() as uow:
            user = await uow.users.update_profile(
                request[AUTH].user.id,
                first_name=body.first_name,
                last_name=body.last_name,
                username=body.username,
                language=body.language,
            )
        return model_response(profile_out(user))

    @api.route(
        "GET",
        "/.well-known/jwks.json",
        summary="Public keys that verify access tokens",
        tags=["auth"],
        response=JwksOut,
        rate=None,
        description="Empty with HS256 (secrets are never published); the EdDSA keys otherwise.",
    )
    async def jwks(request: web.Request) -> web.StreamResponse:
        return web.json_response(request.app[SERVICES].codec.jwks(), headers={"Cache-Control": "public, max-age=300"})

    return api
