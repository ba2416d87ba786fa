"""Telegram routes: Mini App and Login Widget sign-in, linking a Telegram account to an email account, referrals,
and the small web page where a Telegram user confirms a link with the email account's password.

Status codes follow `core/telegram/user_data.py`: 422 for data no Telegram client could have produced, 401 for
data that is well-formed but not authentic or not fresh (and for a replayed initData when replays are refused).
"""

from __future__ import annotations

import base64
import hashlib
import re
from importlib import resources
from typing import Literal

from aiohttp import web

from core.errors import Conflict
from core.identity.service import TelegramSignIn
from core.users.dto import UserDTO
from webserver.api import Api, invalid, model_response, parse_body
from webserver.errors import ApiError
from webserver.keys import SERVICES
from webserver.routes.auth import client_info, profile_out
from webserver.routes.schemas import ProfileOut
from webserver.routes.telegram_schemas import (
    LinkCodeOut,
    LinkConfirmIn,
    LinkConfirmOut,
    LinkPageQuery,
    LoginWidgetQuery,
    MethodsOut,
    ReferralsOut,
    TelegramSignInOut,
    TelegramUserOut,
    WebAppIn,
    WebAppQuery,
)
from webserver.security import AUTH, TELEGRAM_WEB, TelegramWebConfig, telegram_web_config

__all__ = ["TELEGRAM_WEB", "TelegramWebConfig", "configure_telegram_routes", "create_api"]

PREFIX = "/api/v1"
TAGS = ["telegram"]
LINK_CONFIRM_PATH = f"{PREFIX}/auth/link/confirm"

# RFC 6265 cookie-name token characters.
_COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}")
_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
_STYLE = re.compile(r"<style>(.*?)</style>", re.DOTALL)
# Tokens in an answer must not stay in a browser's or a proxy's cache.
_NO_STORE = {"Cache-Control": "no-store"}


def configure_telegram_routes(
    app: web.Application, *, cookie_name: str, redirect_url: str, secure_cookies: bool
) -> None:
    """Set the Login Widget's cookie name and redirect target; call before the app starts."""
    if not _COOKIE_NAME.fullmatch(cookie_name):
        raise ValueError(f"cookie name {cookie_name!r} is not a valid cookie token")
    # A configured target only, never one from the request; still refuse values a browser would read oddly.
    if not (redirect_url.startswith("/") and not redirect_url.startswith("//")) and not re.match(
        r"https?://[^\s/]", redirect_url
    ):
        raise ValueError(f"redirect URL {redirect_url!r} must be a path starting with '/' or an http(s) URL")
    if any(ch in redirect_url for ch in "\r\n\\ "):
        raise ValueError("redirect URL must not contain spaces, backslashes or line breaks")
    app[TELEGRAM_WEB] = TelegramWebConfig(
        cookie_name=cookie_name, redirect_url=redirect_url, secure_cookies=secure_cookies
    )


def telegram_user_out(user: UserDTO) -> TelegramUserOut:
    return TelegramUserOut(
        id=user.id,
        telegram_id=user.telegram_id,
        username_tg=user.telegram_username,
        first_name=user.first_name,
        last_name=user.last_name,
        language=user.language,
    )


def sign_in_out(result: TelegramSignIn) -> TelegramSignInOut:
    tokens = result.tokens
    return TelegramSignInOut(
        created=result.created,
        user_id=result.user.id,
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_in=tokens.expires_in,
        user=telegram_user_out(result.user),
    )


async def init_data_from_body(request: web.Request) -> str:
    """The raw initData of a POST: JSON {init_data} / {initData}, or the bare string as text/plain."""
    content_type = request.content_type
    if content_type == "text/plain":
        raw = await request.read()
        try:
            text = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise invalid([], "The body is not UTF-8 text", "encoding") from None
        if not text:
            raise invalid([], "The body is empty; send the initData string", "missing")
        return text
    if content_type != "application/json":
        raise ApiError(415, "Send the body as application/json or text/plain")
    return (await parse_body(request, WebAppIn)).init_data


def raw_query(request: web.Request) -> str:
    # raw_path is the request target as the client sent it; `request.query_string` is already decoded (a
    # %25 or %20 in the initData would come back as '%' or ' '), which no longer verifies.
    return request.raw_path.partition("?")[2]


def wants_json(request: web.Request, query: LoginWidgetQuery) -> bool:
    if query.format is not None:
        return query.format == "json"
    for item in request.headers.get("Accept", "").split(","):
        media, *params = (part.strip().lower() for part in item.split(";"))
        if media == "application/json" and not any(param.replace(" ", "") in ("q=0", "q=0.0") for param in params):
            return True
    return False


def link_page() -> tuple[str, str]:
    """The page and its Content-Security-Policy, which admits exactly its own inline script and style."""
    page = resources.files("webserver").joinpath("static/link.html").read_text(encoding="utf-8")

    def digest(pattern: re.Pattern[str]) -> str:
        found = pattern.search(page)
        if found is None:
            return "'none'"
        value = base64.b64encode(hashlib.sha256(found.group(1).encode("utf-8")).digest()).decode("ascii")
        return f"'sha256-{value}'"

    policy = (
        f"default-src 'none'; script-src {digest(_SCRIPT)}; style-src {digest(_STYLE)}; connect-src 'self'; "
        "form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
    )
    return page, policy


def create_api() -> Api:
    api = Api(title="telegram", version="")
    page, page_policy = link_page()

    def tokens_response(result: TelegramSignIn) -> web.Response:
        return model_response(sign_in_out(result), headers=_NO_STORE)

    @api.route(
        "POST",
        f"{PREFIX}/auth/telegram/webapp",
        summary="Sign in from a Mini App with initData",
        tags=TAGS,
        response=TelegramSignInOut,
        rate="auth",
        errors=[401, 413, 415, 422],
        description='Body: JSON {"init_data": "<Telegram.WebApp.initData>"} (key `initData` also accepted) or '
        "the initData string itself as text/plain. Creates the user on first sign-in (a `start_param` of "
        "`ref_<code>` then records the referrer) and opens a session. 422: malformed initData; 401: not "
        "authentic, stale, dated ahead, or replayed when replays are refused.",
    )
    async def telegram_webapp(request: web.Request) -> web.StreamResponse:
        raw = await init_data_from_body(request)
        result = await request.app[SERVICES].identity.sign_in_with_init_data(raw, client_info(request))
        return tokens_response(result)

    @api.route(
        "GET",
        f"{PREFIX}/auth/telegram/webapp",
        summary="Sign in from a Mini App, initData as the query string",
        tags=TAGS,
        query=WebAppQuery,
        response=TelegramSignInOut,
        rate="auth",
        errors=[401],
        description="The query string itself is the initData, verified exactly as received. Prefer the POST: "
        "a URL travels into logs and histories more easily than a body.",
    )
    async def telegram_webapp_query(request: web.Request, query: WebAppQuery) -> web.StreamResponse:
        result = await request.app[SERVICES].identity.sign_in_with_init_data(raw_query(request), client_info(request))
        return tokens_response(result)

    @api.route(
        "GET",
        f"{PREFIX}/auth/telegram/login",
        summary="Sign in with the Telegram Login Widget",
        tags=TAGS,
        query=LoginWidgetQuery,
        response=TelegramSignInOut,
        rate="auth",
        errors=[401],
        response_headers=["Set-Cookie", "Location"],
        description="The widget's redirect target (its fields as the query string). A browser gets an HttpOnly "
        "SameSite=Lax cookie holding an access token and a 302 to the configured page; with "
        "`Accept: application/json` or `format=json` the answer is the JSON of the Mini App sign-in instead. "
        "The cookie is accepted only on GET requests. Failures are JSON errors, never a redirect.",
    )
    async def telegram_login(request: web.Request, query: LoginWidgetQuery) -> web.StreamResponse:
        fields = {key: value for key, value in request.query.items() if key != "format"}
        result = await request.app[SERVICES].identity.sign_in_with_widget(fields, client_info(request))
        if wants_json(request, query):
            return tokens_response(result)
        config = telegram_web_config(request.app)
        response = web.Response(status=302, headers={"Location": config.redirect_url, **_NO_STORE})
        response.set_cookie(
            config.cookie_name,
            result.tokens.access_token,
            max_age=result.tokens.expires_in,
            path="/",
            secure=config.secure_cookies,
            httponly=True,
            samesite="Lax",
        )
        return response

    @api.route(
        "POST",
        f"{PREFIX}/auth/telegram/link-code",
        summary="A code to link a Telegram account to this account",
        tags=TAGS,
        auth=True,
        response=LinkCodeOut,
        status=201,
        errors=[409],
        description="Open `link` in Telegram (or send `/start link_<code>` to the bot) from the Telegram account to "
        "link. Single use, short-lived. 409 when this account already has a Telegram account.",
    )
    async def telegram_link_code(request: web.Request) -> web.StreamResponse:
        user = request[AUTH].user
        if user.telegram_id is not None:
            raise Conflict("already_linked", "This account is already linked to a Telegram account")
        identity = request.app[SERVICES].identity
        issued = await identity.issue_code_for_account(user.id)
        out = LinkCodeOut(
            code=issued.code, expires_in=issued.expires_in, link=identity.start_link(f"link_{issued.code}")
        )
        return model_response(out, status=201, headers=_NO_STORE)

    @api.route(
        "DELETE",
        f"{PREFIX}/auth/telegram",
        summary="Unlink the Telegram account",
        tags=TAGS,
        auth=True,
        response=ProfileOut,
        errors=[404, 409],
        description="404 when no Telegram account is linked; 409 when Telegram is the only way to sign in.",
    )
    async def telegram_unlink(request: web.Request) -> web.StreamResponse:
        user = await request.app[SERVICES].identity.unlink_telegram(request[AUTH].user.id)
        return model_response(profile_out(user))

    @api.route(
        "GET",
        f"{PREFIX}/auth/referrals",
        summary="Referral code and count",
        tags=TAGS,
        auth=True,
        response=ReferralsOut,
    )
    async def referrals(request: web.Request) -> web.StreamResponse:
        info = await request.app[SERVICES].identity.referral_info(request[AUTH].user.id)
        return model_response(
            ReferralsOut(
                referral_code=info.code, referral_link=info.link, count=info.count, referred_by_id=info.referred_by_id
            )
        )

    @api.route(
        "GET",
        f"{PREFIX}/auth/methods",
        summary="Ways to sign in to this account",
        tags=TAGS,
        auth=True,
        response=MethodsOut,
    )
    async def sign_in_methods(request: web.Request) -> web.StreamResponse:
        found = await request.app[SERVICES].identity.methods(request[AUTH].user.id)
        methods: list[Literal["telegram", "password"]] = []
        if found.telegram_id is not None:
            methods.append("telegram")
        if found.has_password:
            methods.append("password")
        return model_response(
            MethodsOut(
                methods=methods,
                telegram_id=found.telegram_id,
                telegram_username=found.telegram_username,
                email=found.email,
                has_password=found.has_password,
            )
        )

    @api.route(
        "POST",
        LINK_CONFIRM_PATH,
        summary="Confirm a Telegram link with the email account's password",
        tags=TAGS,
        body=LinkConfirmIn,
        response=LinkConfirmOut,
        rate="auth",
        errors=[401, 403, 404, 409],
        description="The code comes from the bot's /link. 401: wrong email/username or password (counted against "
        "the code; enough failures void it); 422: code invalid, used, expired or void; 409: the Telegram account "
        "or this account is already linked elsewhere; 429: too many failed sign-ins.",
    )
    async def link_confirm(request: web.Request, body: LinkConfirmIn) -> web.StreamResponse:
        user = await request.app[SERVICES].identity.link_with_password(
            code=body.code, login=body.account, password=body.password, client=client_info(request)
        )
        return model_response(LinkConfirmOut(user_id=user.id, telegram_id=user.telegram_id))

    @api.route(
        "GET",
        "/link",
        summary="Web page confirming a Telegram link",
        tags=TAGS,
        query=LinkPageQuery,
        rate="general",
        content_type="text/html",
        description="The page behind the bot's /link button: it asks for the email account's password and posts "
        f"to {LINK_CONFIRM_PATH}.",
    )
    async def link_web_page(request: web.Request, query: LinkPageQuery) -> web.StreamResponse:
        return web.Response(
            text=page,
            content_type="text/html",
            headers={"Content-Security-Policy": page_policy, **_NO_STORE},
        )

    return api
