"""Telegram routes: Mini App and Login Widget sign-in, linking a Telegram account to an email account, referrals,
and the small web page where a Telegram user confirms a link with the email account's password.

Status codes follow `core/telegram/user_data.py`: 422 for data no Telegram client could have produced, 401 for
data that is well-formed but not authentic or not fresh (and for a replayed initData when replays are refused).
"""

from __future__ import annotations

import html
import json
import re
import sys
from typing import Literal

from aiohttp import web

from core.auth import password_flows
from core.identity.service import IdentityService, TelegramSignIn
from webserver.api import UOW, Api, invalid, model_response, parse_body, respond, route
from webserver.errors import ApiError
from webserver.http import NO_STORE, client_info
from webserver.i18n import N_, TRANSLATIONS, Translations
from webserver.keys import CONFIG, CONTAINER
from webserver.pages import page_with_policy
from webserver.schemas.auth import ProfileOut
from webserver.schemas.identity import (
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
from webserver.security import AUTH

PREFIX = "/api/v1"
TAGS = ["telegram"]
LINK_CONFIRM_PATH = f"{PREFIX}/auth/link/confirm"


def sign_in_out(result: TelegramSignIn) -> TelegramSignInOut:
    tokens = result.tokens
    return TelegramSignInOut(
        created=result.created,
        user_id=result.user.id,
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_in=tokens.expires_in,
        user=TelegramUserOut.model_validate(result.user, from_attributes=True),
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


# The link page's texts, translated into the person's language when the page is served.
LINK_PAGE_TEXTS = {
    "title": N_("Link your Telegram account"),
    "intro": N_("Sign in to the account you want to link with your Telegram account."),
    "login": N_("Email or username"),
    "password": N_("Password"),
    "confirm": N_("Confirm"),
}
LINK_PAGE_SCRIPT_TEXTS = {
    "no_code": N_("This link has no code. Send /link to the bot again and open the new link."),
    "fill_in": N_("Enter your email or username and your password."),
    "linked": N_("Your Telegram account is linked; go back to the chat."),
    "failed": N_("The link could not be confirmed."),
    "retry_in": N_("(try again in {seconds} s)"),
    "unreachable": N_("The server could not be reached. Check your connection and try again."),
}


def link_page(translations: Translations, language: str) -> str:
    # The texts go in a JSON data block, which no browser runs: the script's hash is the same in every language.
    page, _ = page_with_policy("link.html")
    texts = {key: html.escape(translations.gettext(text, language)) for key, text in LINK_PAGE_TEXTS.items()}
    script_texts = {key: translations.gettext(text, language) for key, text in LINK_PAGE_SCRIPT_TEXTS.items()}
    # "</" would end the data block early; JSON allows it escaped.
    texts["texts"] = json.dumps(script_texts, ensure_ascii=False).replace("</", "<\\/")
    texts["lang"] = language
    return re.sub(r"\{\{(\w+)\}\}", lambda match: texts[match.group(1)], page)


def create_api() -> Api:
    return Api.collect(sys.modules[__name__])


def tokens_response(result: TelegramSignIn) -> web.Response:
    return model_response(sign_in_out(result), headers=NO_STORE)


@route(
    "POST",
    f"{PREFIX}/auth/telegram/webapp",
    summary="Sign in from a Mini App with initData",
    tags=TAGS,
    response=TelegramSignInOut,
    documented_body=WebAppIn,
    rate="auth",
    errors=[401, 413, 415, 422],
    description='Body: JSON {"init_data": "<Telegram.WebApp.initData>"} (key `initData` also accepted) or '
    "the initData string itself as text/plain. Creates the user on first sign-in (a `start_param` of "
    "`ref_<code>` then records the referrer) and opens a session. 422: malformed initData; 401: not "
    "authentic, stale, dated ahead, or replayed when replays are refused.",
    uow="write",
)
async def telegram_webapp(request: web.Request) -> web.StreamResponse:
    raw = await init_data_from_body(request)
    result = await IdentityService(request[UOW]).sign_in_with_init_data(raw, client_info(request))
    return tokens_response(result)


@route(
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
    uow="write",
)
async def telegram_webapp_query(request: web.Request, query: WebAppQuery) -> web.StreamResponse:
    result = await IdentityService(request[UOW]).sign_in_with_init_data(raw_query(request), client_info(request))
    return tokens_response(result)


@route(
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
    uow="write",
)
async def telegram_login(request: web.Request, query: LoginWidgetQuery) -> web.StreamResponse:
    fields = {key: value for key, value in request.query.items() if key != "format"}
    result = await IdentityService(request[UOW]).sign_in_with_widget(fields, client_info(request))
    if wants_json(request, query):
        return tokens_response(result)
    config = request.app[CONFIG].telegram
    response = web.Response(status=302, headers={"Location": config.redirect_url, **NO_STORE})
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


@route(
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
    uow="write",
)
async def telegram_link_code(request: web.Request) -> web.StreamResponse:
    identity = IdentityService(request[UOW])
    issued = await identity.issue_code_for_account(request[AUTH].user.id)
    out = LinkCodeOut(code=issued.code, expires_in=issued.expires_in, link=identity.start_link(f"link_{issued.code}"))
    return model_response(out, status=201, headers=NO_STORE)


@route(
    "DELETE",
    f"{PREFIX}/auth/telegram",
    summary="Unlink the Telegram account",
    tags=TAGS,
    auth=True,
    response=ProfileOut,
    errors=[404, 409],
    description="404 when no Telegram account is linked; 409 when Telegram is the only way to sign in.",
    uow="write",
)
async def telegram_unlink(request: web.Request) -> web.StreamResponse:
    user = await IdentityService(request[UOW]).unlink_telegram(request[AUTH].user.id)
    return respond(ProfileOut, user)


@route(
    "GET",
    f"{PREFIX}/auth/referrals",
    summary="Referral code and count",
    tags=TAGS,
    auth=True,
    response=ReferralsOut,
    uow="read",
)
async def referrals(request: web.Request) -> web.StreamResponse:
    info = await IdentityService(request[UOW]).referral_info(request[AUTH].user.id)
    return model_response(
        ReferralsOut(
            referral_code=info.code, referral_link=info.link, count=info.count, referred_by_id=info.referred_by_id
        )
    )


@route(
    "GET",
    f"{PREFIX}/auth/methods",
    summary="Ways to sign in to this account",
    tags=TAGS,
    auth=True,
    response=MethodsOut,
    uow="read",
)
async def sign_in_methods(request: web.Request) -> web.StreamResponse:
    found = await IdentityService(request[UOW]).methods(request[AUTH].user.id)
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


@route(
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
    user = await password_flows.link_with_password(
        request.app[CONTAINER], code=body.code, login=body.account, password=body.password, client=client_info(request)
    )
    return model_response(LinkConfirmOut(user_id=user.id, telegram_id=user.telegram_id))


@route(
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
    translations = request.app[TRANSLATIONS]
    language = translations.pick(query.lang or request.headers.get("Accept-Language"), None)
    _, page_policy = page_with_policy("link.html")
    return web.Response(
        text=link_page(translations, language),
        content_type="text/html",
        headers={"Content-Security-Policy": page_policy, **NO_STORE},
    )
