"""Telegram profiles (seed 004): link a person's own Telegram accounts by phone, code and cloud password, list them,
read unread messages and dialogs, send from them. Every route is also served at the seed's path without /api/v1.

Each action speaks to Telegram between two units of work (`core.profiles.flows`), so no route opens the request's
unit of work. Only the owner reaches a profile: another person's id or phone answers 404.

Statuses: 404 `PROFILE_NOT_FOUND`; 409 `PROFILE_REVOKED` (signed out at Telegram: sign in again with /profiles/start),
`PROFILE_SESSION_REVOKED` (found signed out during this call; the profile is now `revoked`), `PROFILE_BUSY` (another
process uses the session right now); 410 `CODE_EXPIRED` (start again); 422 `PHONE_INVALID`, `CODE_INVALID` (with
`X-Attempts-Left`), `PASSWORD_INVALID`, `RECIPIENT_INVALID`; 403 `PASSWORD_NEEDED` (next step: POST
/profiles/password), `PHONE_UNREGISTERED`, `PHONE_BANNED`, `PEER_WRITE_FORBIDDEN`; 429 `TELEGRAM_FLOOD_WAIT` and
`PROFILE_SEND_LIMITED` with Retry-After; 502 `TELEGRAM_REFUSED`; 503 `PROFILES_DISABLED` (no api_id/api_hash on
this server), `TELEGRAM_UNAVAILABLE`, `PROFILES_STORE_UNAVAILABLE` (the key-value store holding the leases is down).
"""

from __future__ import annotations

import re
import sys

from aiohttp import web

from core.auth.service import AuthService
from core.profiles import flows
from core.profiles.port import PasswordNeeded, WrongCode
from core.profiles.service import ProfileDTO, ProfilesConfig, ProfilesDisabled, ProfilesService
from webserver.api import UOW, Api, invalid, model_response, route
from webserver.errors import ApiError
from webserver.http import NO_STORE, client_info
from webserver.keys import CONTAINER
from webserver.pages import page_with_policy
from webserver.schemas.auth import UserMeOut
from webserver.schemas.profiles import (
    CodeIn,
    CodeSentOut,
    DialogOut,
    DialogsIn,
    DialogsOut,
    LinkedOut,
    MessageOut,
    PageCodeIn,
    PageSessionOut,
    PasswordIn,
    PhoneIn,
    PhoneQuery,
    ProfileOut,
    ProfilesOut,
    RemovedOut,
    SendIn,
    SentOut,
    UnreadDialogOut,
    UnreadOut,
    UtilsMeOut,
)
from webserver.security import AUTH

PREFIX = "/api/v1"
TAGS = ["profiles"]
_ID = re.compile(r"[1-9]\d{0,17}")
PROFILE_ERRORS = [403, 404, 409, 502, 503]
LOGIN_ERRORS = [403, 409, 410, 502, 503]


def create_api() -> Api:
    return Api.collect(sys.modules[__name__])


def _owner(request: web.Request) -> int:
    """The signed-in person, once the feature is known to be on."""
    config = request.app[CONTAINER].config(ProfilesConfig)
    if config.port is None or config.keyring is None:
        raise ProfilesDisabled(config.disabled_reason or "not configured")
    return request[AUTH].user.id


def _profile(profile: ProfileDTO) -> ProfileOut:
    return ProfileOut.model_validate(profile, from_attributes=True)


@route(
    "GET",
    f"{PREFIX}/profiles",
    aliases=["/profiles"],
    summary="The person's Telegram profiles",
    description="Phone masked, Telegram id, name, state (`active` or `revoked`) and unread total.",
    tags=TAGS,
    auth=True,
    response=ProfilesOut,
    errors=[503],
)
async def list_profiles(request: web.Request) -> web.StreamResponse:
    profiles = await flows.list_profiles(request.app[CONTAINER], _owner(request))
    return model_response(ProfilesOut(profiles=[_profile(p) for p in profiles]))


@route(
    "POST",
    f"{PREFIX}/profiles/start",
    aliases=["/profiles/start"],
    summary="Start linking a Telegram account: Telegram sends it a login code",
    description="Then POST /profiles/code within `expires_in` seconds. Never send the code to anyone in a chat: "
    "Telegram invalidates a login code that is sent in any chat.",
    tags=TAGS,
    auth=True,
    body=PhoneIn,
    response=CodeSentOut,
    errors=LOGIN_ERRORS,
)
async def start(request: web.Request, body: PhoneIn) -> web.StreamResponse:
    sent = await flows.start_login(request.app[CONTAINER], _owner(request), body.phone)
    return model_response(CodeSentOut(phone=sent.phone, delivery=sent.delivery, expires_in=sent.expires_in))


def _code_refused(exc: WrongCode) -> ApiError:
    headers = {"X-Attempts-Left": str(exc.attempts_left)} if exc.attempts_left is not None else {}
    return ApiError(422, exc.message, error_code="CODE_INVALID", headers=headers)


def _password_needed(exc: PasswordNeeded) -> ApiError:
    return ApiError(
        403,
        "This account has two-step verification: next step, POST /profiles/password with its cloud password",
        error_code="PASSWORD_NEEDED",
        headers={"X-Next-Step": exc.next_step},
    )


@route(
    "POST",
    f"{PREFIX}/profiles/code",
    aliases=["/profiles/code"],
    summary="Submit the login code",
    description="200 with the linked profile; 403 PASSWORD_NEEDED names the next step (POST /profiles/password); "
    "422 CODE_INVALID with the attempts left (X-Attempts-Left); 410 CODE_EXPIRED: start again.",
    tags=TAGS,
    auth=True,
    body=CodeIn,
    response=LinkedOut,
    errors=LOGIN_ERRORS,
    response_headers=["X-Attempts-Left", "X-Next-Step"],
)
async def code(request: web.Request, body: CodeIn) -> web.StreamResponse:
    try:
        profile = await flows.submit_code(request.app[CONTAINER], _owner(request), body.phone, body.code)
    except WrongCode as exc:
        raise _code_refused(exc) from None
    except PasswordNeeded as exc:
        raise _password_needed(exc) from None
    return model_response(LinkedOut(profile=_profile(profile)))


@route(
    "POST",
    f"{PREFIX}/profiles/password",
    aliases=["/profiles/password"],
    summary="Submit the cloud password (two-step verification)",
    description="200 with the linked profile; 422 PASSWORD_INVALID; 410 CODE_EXPIRED: start again.",
    tags=TAGS,
    auth=True,
    body=PasswordIn,
    response=LinkedOut,
    errors=LOGIN_ERRORS,
)
async def password(request: web.Request, body: PasswordIn) -> web.StreamResponse:
    profile = await flows.submit_password(request.app[CONTAINER], _owner(request), body.phone, body.password)
    return model_response(LinkedOut(profile=_profile(profile)))


@route(
    "DELETE",
    f"{PREFIX}/profiles/{{profile_id}}",
    aliases=["/profiles/{profile_id}"],
    summary="Remove a profile: log its session out at Telegram and delete it",
    tags=TAGS,
    auth=True,
    response=RemovedOut,
    errors=[*PROFILE_ERRORS, 422],
)
async def remove(request: web.Request) -> web.StreamResponse:
    raw = request.match_info["profile_id"]
    if _ID.fullmatch(raw) is None:
        raise invalid(["path", "profile_id"], "Expected a positive integer", "int_parsing")
    owner = _owner(request)
    await flows.remove(request.app[CONTAINER], owner, int(raw))
    return model_response(RemovedOut(id=int(raw)))


async def _unread(request: web.Request, phone: str) -> web.StreamResponse:
    found = await flows.unread(request.app[CONTAINER], _owner(request), phone)
    dialogs = [
        UnreadDialogOut(
            dialog=DialogOut.model_validate(item.dialog, from_attributes=True),
            messages=[MessageOut.model_validate(m, from_attributes=True) for m in item.messages],
        )
        for item in found.dialogs
    ]
    return model_response(UnreadOut(profile_id=found.profile_id, total=found.total, dialogs=dialogs))


UNREAD_DOC = "Dialogs with unread messages and the newest of them; reading does not mark them read."


@route(
    "GET",
    f"{PREFIX}/messages/unread",
    aliases=["/messages/unread"],
    summary="Unread messages of a profile",
    description=UNREAD_DOC,
    tags=TAGS,
    auth=True,
    query=PhoneQuery,
    response=UnreadOut,
    errors=PROFILE_ERRORS,
)
async def unread_get(request: web.Request, query: PhoneQuery) -> web.StreamResponse:
    return await _unread(request, query.phone)


@route(
    "POST",
    f"{PREFIX}/messages/unread",
    aliases=["/messages/unread"],
    summary="Unread messages of a profile",
    description=UNREAD_DOC,
    tags=TAGS,
    auth=True,
    body=PhoneIn,
    response=UnreadOut,
    errors=PROFILE_ERRORS,
)
async def unread_post(request: web.Request, body: PhoneIn) -> web.StreamResponse:
    return await _unread(request, body.phone)


@route(
    "POST",
    f"{PREFIX}/messages/send",
    aliases=["/messages/send"],
    summary="Send a text message from a profile",
    description="`tg_receiver`: a numeric id or a @username. At most the configured number a minute per profile "
    "(429 PROFILE_SEND_LIMITED with Retry-After).",
    tags=TAGS,
    auth=True,
    body=SendIn,
    response=SentOut,
    errors=PROFILE_ERRORS,
)
async def send(request: web.Request, body: SendIn) -> web.StreamResponse:
    sent = await flows.send(request.app[CONTAINER], _owner(request), body.phone, body.tg_receiver, body.text)
    return model_response(SentOut(id=sent.id, dialog_id=sent.dialog_id, date=sent.date))


@route(
    "POST",
    f"{PREFIX}/messages/dialogs",
    aliases=["/messages/dialogs"],
    summary="Dialogs of a profile, a page at a time",
    description="Newest first, unread ones first within a page; cached briefly.",
    tags=TAGS,
    auth=True,
    body=DialogsIn,
    response=DialogsOut,
    errors=PROFILE_ERRORS,
)
async def dialogs(request: web.Request, body: DialogsIn) -> web.StreamResponse:
    page = await flows.dialogs(
        request.app[CONTAINER], _owner(request), body.phone, offset=body.offset, limit=body.limit
    )
    next_offset = page.next_cursor.skip if page.next_cursor is not None else None
    items = [DialogOut.model_validate(d, from_attributes=True) for d in page.dialogs]
    return model_response(DialogsOut(dialogs=items, offset=body.offset, next_offset=next_offset))


@route(
    "GET",
    f"{PREFIX}/utils/me",
    aliases=["/utils/me"],
    summary="The signed-in person and their Telegram profiles",
    tags=TAGS,
    auth=True,
    response=UtilsMeOut,
)
async def utils_me(request: web.Request) -> web.StreamResponse:
    user = request[AUTH].user
    config = request.app[CONTAINER].config(ProfilesConfig)
    profiles = []
    if config.port is not None and config.keyring is not None:
        profiles = [_profile(p) for p in await flows.list_profiles(request.app[CONTAINER], user.id)]
    return model_response(UtilsMeOut(user=UserMeOut.model_validate(user, from_attributes=True), profiles=profiles))


@route(
    "GET",
    "/profiles/add",
    summary="Web page adding a Telegram profile (phone, code, cloud password)",
    tags=TAGS,
    rate="general",
    content_type="text/html",
    description='The page behind the bot\'s "Add a Telegram profile" button. The bot puts a short-lived access '
    "token in the address's fragment (never sent to the server); the page posts to /api/v1/profiles/start, /code "
    "and /password with it. The login code is typed here, never sent in a chat, where Telegram would invalidate it.",
)
async def add_web_page(request: web.Request) -> web.StreamResponse:
    page, page_policy = page_with_policy("profiles.html")
    return web.Response(
        text=page, content_type="text/html", headers={"Content-Security-Policy": page_policy, **NO_STORE}
    )


@route(
    "POST",
    f"{PREFIX}/profiles/page-session",
    summary="Exchange the one-time code of the bot's link for an access token (the /profiles/add page)",
    description="The code works once and expires (422 PAGE_CODE_INVALID); the answer is a new session's access "
    "token for the person the bot issued the code to.",
    tags=TAGS,
    body=PageCodeIn,
    response=PageSessionOut,
    rate="auth",
    errors=[403],
    uow="write",
)
async def page_session(request: web.Request, body: PageCodeIn) -> web.StreamResponse:
    uow = request[UOW]
    owner = await ProfilesService(uow).claim_page_code(body.code)
    tokens = await AuthService(uow).open_session(owner, method="profiles_page", client=client_info(request))
    out = PageSessionOut(access_token=tokens.access_token, expires_in=tokens.expires_in)
    return model_response(out, headers=NO_STORE)
