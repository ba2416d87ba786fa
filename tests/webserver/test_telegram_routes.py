"""Telegram sign-in, linking and referrals over real HTTP, on both key-value stores.

Signed data is built with the same helpers the local Telegram stand-in uses, dated by the app's clock.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from pytest_aiohttp import AiohttpClient

from core.auth.service import AuthService
from core.clock import ManualClock
from core.container import Container
from core.errors import Conflict
from core.identity.service import IdentityService
from core.settings import LOCAL_BOT_TOKEN
from core.telegram.initdata import (
    ed25519_public_key_hex,
    init_data_user_json,
    sign_init_data,
    sign_init_data_ed25519,
)
from core.telegram.login_widget import sign_login_widget
from core.telegram.user_data import MAX_USER_ID, TelegramUser
from core.users.dto import TelegramProfile
from storage.kv import KeyValueStore
from tests.helpers.app import Client, create_test_app, make_container
from tests.helpers.app import test_settings as settings_for
from tests.webserver.conftest import MakeClient
from tests.webserver.test_auth_routes import API, PASSWORD, bearer, register
from webserver.keys import CONTAINER, TelegramWebConfig

BOT_ID = int(LOCAL_BOT_TOKEN.split(":", 1)[0])
OTHER_BOT_TOKEN = "1000000002:another-bot-token-for-tests"
ED25519_KEY = hashlib.sha256(b"unibot telegram route tests").digest()
WEBAPP = f"{API}/auth/telegram/webapp"
WIDGET = f"{API}/auth/telegram/login"
CONFIRM = f"{API}/auth/link/confirm"
GENEROUS = {"auth_limit": 1000, "general_limit": 1000, "user_limit": 1000}


def tg_user(telegram_id: int = 5550001, first_name: str = "Tess", **extra: Any) -> TelegramUser:
    return TelegramUser(id=telegram_id, first_name=first_name, **extra)


def now(clock: ManualClock) -> int:
    return int(clock.time())


def webapp_fields(clock: ManualClock, user: TelegramUser | None = None, **extra: str) -> dict[str, str]:
    fields = {
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": init_data_user_json(user or tg_user()),
        "auth_date": str(now(clock)),
        "chat_type": "private",
        "chat_instance": "-8279429361728417853",
    }
    fields.update(extra)
    return fields


def init_data(
    clock: ManualClock, user: TelegramUser | None = None, *, token: str = LOCAL_BOT_TOKEN, **extra: str
) -> str:
    return sign_init_data(webapp_fields(clock, user, **extra), token)


def raw_user(clock: ManualClock, user_value: str) -> str:
    return sign_init_data({**webapp_fields(clock), "user": user_value}, LOCAL_BOT_TOKEN)


def widget_fields(clock: ManualClock, telegram_id: int = 5550101, **extra: str) -> dict[str, str]:
    fields = {"id": str(telegram_id), "first_name": "Wendy", "username": "wendy_w", "auth_date": str(now(clock))}
    fields.update(extra)
    return sign_login_widget(fields, LOCAL_BOT_TOKEN)


def tma(raw: str) -> dict[str, str]:
    return {"Authorization": f"tma {raw}"}


async def sign_in(client: Client, raw: str, *, status: int = 200) -> dict[str, Any]:
    response = await client.post(WEBAPP, json={"init_data": raw})
    assert response.status == status, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def me(client: Client, headers: dict[str, str], *, status: int = 200) -> dict[str, Any]:
    response = await client.get(f"{API}/users/me", headers=headers)
    assert response.status == status, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def get_json(client: Client, path: str, headers: dict[str, str], *, status: int = 200) -> dict[str, Any]:
    response = await client.get(path, headers=headers)
    assert response.status == status, await response.text()
    body: dict[str, Any] = await response.json()
    return body


def assert_error_shape(body: dict[str, Any]) -> None:
    assert set(body) >= {"detail", "error_code", "timestamp"}, body
    assert isinstance(body["detail"], str)


# --- Mini App sign-in ---------------------------------------------------------------------------------------------


async def test_webapp_json_creates_the_user_then_signs_in(client: Client, clock: ManualClock) -> None:
    raw = init_data(clock, tg_user(last_name="Lee", username="tess_l", language_code="ru"))
    first = await client.post(WEBAPP, json={"init_data": raw})
    assert first.status == 200
    assert first.headers["Cache-Control"] == "no-store"
    body = await first.json()
    assert body["result"] == "success"
    assert body["created"] is True
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert body["user"] == {
        "id": body["user_id"],
        "telegram_id": 5550001,
        "username_tg": "tess_l",
        "first_name": "Tess",
        "last_name": "Lee",
        "language": body["user"]["language"],
    }
    profile = await me(client, bearer(body["access_token"]))
    assert profile["id"] == body["user_id"]
    assert profile["telegram_id"] == 5550001

    # The same person again, with the other accepted key and fresh data: the same user, not created.
    clock.advance(5)
    again = await client.post(WEBAPP, json={"initData": init_data(clock, tg_user(username="tess_l"))})
    assert again.status == 200
    second = await again.json()
    assert second["created"] is False
    assert second["user_id"] == body["user_id"]
    assert second["access_token"] != body["access_token"]
    refreshed = await client.post(f"{API}/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert refreshed.status == 200


async def test_webapp_text_plain_and_query_forms(client: Client, clock: ManualClock) -> None:
    raw = init_data(clock, tg_user(first_name="Ann & Co +1 100%", username="ann"))
    plain = await client.post(WEBAPP, data=raw.encode(), headers={"Content-Type": "text/plain; charset=utf-8"})
    assert plain.status == 200, await plain.text()
    created = await plain.json()
    assert created["created"] is True
    assert created["user"]["first_name"] == "Ann & Co +1 100%"

    clock.advance(1)
    # The query string itself is the initData; its %25, %20 and %2B must reach the check as sent.
    for path in (WEBAPP, WEBAPP + "/"):
        query = await client.get(f"{path}?{init_data(clock, tg_user(first_name='Ann & Co +1 100%'))}")
        assert query.status == 200, await query.text()
        body = await query.json()
        assert body["created"] is False
        assert body["user_id"] == created["user_id"]
        await me(client, bearer(body["access_token"]))
        clock.advance(1)


async def test_referral_from_start_param_on_first_sign_in_only(client: Client, clock: ManualClock) -> None:
    referrer = await sign_in(client, init_data(clock, tg_user(1001, "Ref")))
    ref_token = bearer(referrer["access_token"])
    info = await get_json(client, f"{API}/auth/referrals", ref_token)
    assert set(info) == {"referral_code", "referral_link", "count", "referred_by_id"}
    assert info["count"] == 0
    assert info["referred_by_id"] is None
    assert info["referral_link"] is None  # the bot's username is unknown in tests
    code = info["referral_code"]

    newcomer = await sign_in(client, init_data(clock, tg_user(1002, "New"), start_param=f"ref_{code}"))
    assert newcomer["created"] is True
    newcomer_info = await get_json(client, f"{API}/auth/referrals", bearer(newcomer["access_token"]))
    assert newcomer_info["referred_by_id"] == referrer["user_id"]
    assert (await get_json(client, f"{API}/auth/referrals", ref_token))["count"] == 1

    # Only the first sign-in counts: a later start_param changes nothing.
    other = await sign_in(client, init_data(clock, tg_user(1003, "Other")))
    other_code = (await get_json(client, f"{API}/auth/referrals", bearer(other["access_token"])))["referral_code"]
    clock.advance(1)
    later = await sign_in(client, init_data(clock, tg_user(1002, "New"), start_param=f"ref_{other_code}"))
    assert later["created"] is False
    assert (await get_json(client, f"{API}/auth/referrals", bearer(later["access_token"])))["referred_by_id"] == (
        referrer["user_id"]
    )

    # Never oneself.
    clock.advance(1)
    own = await sign_in(client, init_data(clock, tg_user(1001, "Ref"), start_param=f"ref_{code}"))
    assert (await get_json(client, f"{API}/auth/referrals", bearer(own["access_token"])))["referred_by_id"] is None

    # The tma header creates a user too, and takes its referral the same way.
    fresh = await me(client, tma(init_data(clock, tg_user(1004, "Header"), start_param=f"ref_{code}")))
    assert fresh["telegram_id"] == 1004
    assert (await get_json(client, f"{API}/auth/referrals", ref_token))["count"] == 2


def forged_init_data(clock: ManualClock) -> list[tuple[str, str, int]]:
    """(name, raw initData, expected status) for data that must never sign anyone in."""
    t = now(clock)
    genuine = init_data(clock)
    without_hash = "&".join(part for part in genuine.split("&") if not part.startswith("hash="))
    widget = widget_fields(clock)
    return [
        ("changed field", genuine.replace("Tess", "Tesz"), 401),
        ("missing hash", without_hash, 422),
        ("empty hash", without_hash + "&hash=", 422),
        ("non-hex hash", without_hash + "&hash=" + "z" * 64, 422),
        ("short hash", without_hash + "&hash=abc123", 422),
        ("another bot's token", init_data(clock, token=OTHER_BOT_TOKEN), 401),
        ("widget data as initData", "&".join(f"{k}={quote(v, safe='')}" for k, v in widget.items()), 422),
        ("stale auth_date", init_data(clock, auth_date=str(t - 86400 - 1)), 401),
        ("future auth_date", init_data(clock, auth_date=str(t + 3600)), 401),
        ("auth_date not a number", init_data(clock, auth_date="soon"), 422),
        ("negative auth_date", init_data(clock, auth_date=f"-{t}"), 422),
        ("duplicate key", genuine + f"&auth_date={t}", 422),
        ("user not JSON", raw_user(clock, "{not json"), 422),
        ("user a JSON list", raw_user(clock, "[1,2]"), 422),
        ("user id above 2^53", raw_user(clock, json.dumps({"id": MAX_USER_ID + 1, "first_name": "Big"})), 422),
        ("user id a boolean", raw_user(clock, json.dumps({"id": True, "first_name": "Bool"})), 422),
        ("blank field", genuine + "&extra=", 422),
        ("spaces", genuine.replace("&", " & ", 1), 422),
        ("only a hash", "hash=" + "a" * 64, 422),
        ("too long", genuine + "&padding=" + "x" * 9000, 422),
    ]


async def test_forged_init_data_is_refused_on_every_transport(client: Client, clock: ManualClock) -> None:
    for name, raw, status in forged_init_data(clock):
        json_answer = await client.post(WEBAPP, json={"init_data": raw})
        plain_answer = await client.post(WEBAPP, data=raw.encode(), headers={"Content-Type": "text/plain"})
        answers = [("json", json_answer, status), ("text/plain", plain_answer, status)]
        # Over 8 KiB, a header or a URL is refused by aiohttp's HTTP parser before the app sees the request.
        if name != "too long":
            header_answer = await client.get(f"{API}/users/me", headers=tma(raw))
            answers.append(("tma", header_answer, 401))
        if name not in {"spaces", "too long"}:
            query_answer = await client.get(f"{WEBAPP}?{raw}")
            answers.append(("query", query_answer, status))
        for transport, response, expected in answers:
            if transport == "json" and name == "too long":
                expected = 422  # the body model's own length cap
            assert response.status == expected, (name, transport, await response.text())
            body = await response.json()
            assert_error_shape(body)
            assert raw not in json.dumps(body), (name, transport)
            if transport == "tma":
                assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


async def test_malformed_bodies_never_500(client: Client) -> None:
    cases: list[tuple[bytes, str, int]] = [
        (b"{}", "application/json", 422),
        (b'{"init_data": ""}', "application/json", 422),
        (b'{"init_data": 42}', "application/json", 422),
        (b'["x"]', "application/json", 422),
        (b"{not json", "application/json", 400),
        (b"", "text/plain", 422),
        (b"\xff\xfe", "text/plain", 422),
        (b"init_data=x", "application/x-www-form-urlencoded", 415),
        (b"x" * 100_000, "text/plain", 422),
        (b'{"init_data": "' + b"x" * (300 * 1024) + b'"}', "application/json", 413),
    ]
    for data, content_type, status in cases:
        response = await client.post(WEBAPP, data=data, headers={"Content-Type": content_type})
        assert response.status == status, (data[:40], content_type, await response.text())
        assert_error_shape(await response.json())
    empty_query = await client.get(WEBAPP)
    assert empty_query.status == 422


async def test_replayed_init_data_is_refused_but_the_header_is_not(make_client: MakeClient, clock: ManualClock) -> None:
    client = await make_client(telegram_auth={"refuse_replayed_init_data": True}, ratelimit=GENEROUS)
    raw = init_data(clock)
    first = await sign_in(client, raw)
    replay = await client.post(WEBAPP, data=raw.encode(), headers={"Content-Type": "text/plain"})
    assert replay.status == 401
    assert (await replay.json())["error_code"] == "INIT_DATA_REPLAYED"
    for _ in range(3):
        assert (await me(client, tma(raw)))["id"] == first["user_id"]
    clock.advance(1)
    await sign_in(client, init_data(clock))


async def test_ed25519_signature(make_client: MakeClient, clock: ManualClock) -> None:
    public_key = ed25519_public_key_hex(ED25519_KEY)
    client = await make_client(
        telegram_auth={"ed25519_check": True, "ed25519_required": True, "ed25519_public_key": public_key},
        ratelimit=GENEROUS,
    )

    def signed(bot_id: int = BOT_ID) -> str:
        return sign_init_data_ed25519(
            webapp_fields(clock), bot_token=LOCAL_BOT_TOKEN, bot_id=bot_id, private_key=ED25519_KEY
        )

    assert (await sign_in(client, signed()))["created"] is True
    assert (await me(client, tma(signed())))["telegram_id"] == 5550001
    await sign_in(client, signed(bot_id=BOT_ID + 1), status=401)
    # The HMAC alone no longer suffices once a signature is required.
    await sign_in(client, init_data(clock), status=401)
    await me(client, tma(init_data(clock)), status=401)

    # Data signed with the tests' key while Telegram's production key is configured.
    production = await make_client(telegram_auth={"ed25519_check": True, "ed25519_required": True}, ratelimit=GENEROUS)
    await sign_in(production, signed(), status=401)


# --- Authorization: tma -------------------------------------------------------------------------------------------


async def test_tma_header_authenticates_and_is_cached(
    client: Client, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = 0
    original = IdentityService.prove_init_data

    async def counting(self: IdentityService, raw: str) -> Any:
        nonlocal calls
        calls += 1
        return await original(self, raw)

    # What the tma scheme calls on a cache miss: proving the initData (and finding or creating its user).
    monkeypatch.setattr(IdentityService, "prove_init_data", counting)
    raw = init_data(clock, tg_user(7001, "Mini"))
    first = await me(client, tma(raw))
    assert first["telegram_id"] == 7001
    for _ in range(5):
        assert (await me(client, tma(raw)))["id"] == first["id"]
    assert calls == 1
    assert client.app[CONTAINER].guard.cached_init_data == 1
    # Any route that needs a user takes it.
    sessions = await get_json(client, f"{API}/auth/sessions", tma(raw))
    assert sessions == {"sessions": []}
    methods = await get_json(client, f"{API}/auth/methods", tma(raw))
    assert methods["methods"] == ["telegram"]

    # The scheme name is case-insensitive, as HTTP says.
    assert (await me(client, {"Authorization": f"TMA {raw}"}))["id"] == first["id"]

    for header in ("tma", "tma ", "tma garbage", "tma hash=" + "0" * 64, "tma " + raw + "x"):
        response = await client.get(f"{API}/users/me", headers={"Authorization": header})
        assert response.status == 401, header
        assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
        assert (await response.json())["error_code"] == "INVALID_TOKEN"

    # initData stops working once it is older than the max age, cached or not.
    clock.advance(86400 + 1)
    await me(client, tma(raw), status=401)
    assert client.app[CONTAINER].guard.cached_init_data == 0


async def test_tma_logout_and_disabled_user(client: Client, clock: ManualClock) -> None:
    raw = init_data(clock, tg_user(7002, "Leaving"))
    user = await me(client, tma(raw))
    logout = await client.post(f"{API}/auth/logout", headers=tma(raw))
    assert logout.status == 200
    # Signed out: this initData is refused from now on, while fresh data from Telegram still works.
    await me(client, tma(raw), status=401)
    clock.advance(1)
    fresh = init_data(clock, tg_user(7002, "Leaving"))
    assert (await me(client, tma(fresh)))["id"] == user["id"]

    async with client.app[CONTAINER].unit_of_work(write=True) as uow:
        await AuthService(uow).set_active(user["id"], False)
    # initData still proves who this is; the access policy then refuses the disabled account.
    disabled = await me(client, tma(fresh), status=403)
    assert disabled["error_code"] == "ACCOUNT_DISABLED"
    clock.advance(1)
    disabled = await me(client, tma(init_data(clock, tg_user(7002, "Leaving"))), status=403)
    assert disabled["error_code"] == "ACCOUNT_DISABLED"


# --- Login Widget -------------------------------------------------------------------------------------------------


def cookie_from(response: Any, name: str = "unibot_access") -> str:
    header = response.headers["Set-Cookie"]
    match = re.match(rf"{name}=([^;]+);", header)
    assert match is not None, header
    return match.group(1)


async def test_login_widget_sets_a_cookie_and_redirects(client: Client, clock: ManualClock) -> None:
    response = await client.get(WIDGET, params=widget_fields(clock), allow_redirects=False)
    assert response.status == 302, await response.text()
    assert response.headers["Location"] == "/"
    assert response.headers["Cache-Control"] == "no-store"
    set_cookie = response.headers["Set-Cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in set_cookie.split(";")[1:]}
    assert {"httponly", "path", "max-age", "samesite"} <= attributes
    assert "SameSite=Lax" in set_cookie
    assert "Max-Age=900" in set_cookie
    assert "Path=/" in set_cookie
    assert "secure" not in attributes  # local mode
    token = cookie_from(response)
    client.session.cookie_jar.clear()

    cookie = {"Cookie": f"unibot_access={token}"}
    profile = await me(client, cookie)
    assert profile["telegram_id"] == 5550101
    # Not on writes: SameSite=Lax lets cross-site navigations carry it, so it must not change anything.
    logout = await client.post(f"{API}/auth/logout", headers=cookie)
    assert logout.status == 401
    assert (await logout.json())["error_code"] == "NOT_AUTHENTICATED"
    # An Authorization header wins over the cookie.
    await me(client, {**cookie, "Authorization": "Bearer nonsense"}, status=401)
    # The cookie's token is an ordinary access token: it works as a bearer too.
    assert (await client.post(f"{API}/auth/logout", headers=bearer(token))).status == 200
    await me(client, cookie, status=401)


async def test_login_widget_json_variants(client: Client, clock: ManualClock) -> None:
    by_header = await client.get(
        WIDGET, params=widget_fields(clock), headers={"Accept": "application/json"}, allow_redirects=False
    )
    assert by_header.status == 200
    first = await by_header.json()
    assert first["created"] is True
    assert first["user"]["username_tg"] == "wendy_w"
    assert "Set-Cookie" not in by_header.headers
    by_param = await client.get(f"{WIDGET}/", params={**widget_fields(clock), "format": "json"}, allow_redirects=False)
    assert by_param.status == 200
    second = await by_param.json()
    assert second["created"] is False
    assert second["user_id"] == first["user_id"]
    await me(client, bearer(second["access_token"]))
    # A browser's Accept header still gets the redirect.
    browser = await client.get(
        WIDGET,
        params=widget_fields(clock),
        headers={"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
        allow_redirects=False,
    )
    assert browser.status == 302


async def test_login_widget_failures_are_json(client: Client, clock: ManualClock) -> None:
    good = widget_fields(clock)
    genuine_init_data = dict(part.split("=", 1) for part in init_data(clock).split("&"))
    cases: list[tuple[str, str, int]] = [
        ("forged", "&".join(f"{k}={quote(v)}" for k, v in {**good, "first_name": "Mallory"}.items()), 401),
        (
            "stale",
            "&".join(f"{k}={quote(v)}" for k, v in widget_fields(clock, auth_date=str(now(clock) - 90000)).items()),
            401,
        ),
        ("missing hash", "&".join(f"{k}={quote(v)}" for k, v in good.items() if k != "hash"), 422),
        ("unknown field", "&".join(f"{k}={quote(v)}" for k, v in good.items()) + "&admin=1", 422),
        ("duplicate key", "&".join(f"{k}={quote(v)}" for k, v in good.items()) + "&id=1", 422),
        ("initData as widget data", "&".join(f"{k}={v}" for k, v in genuine_init_data.items()), 422),
        ("bad format", "&".join(f"{k}={quote(v)}" for k, v in good.items()) + "&format=xml", 422),
        ("nothing", "", 422),
    ]
    for name, query, status in cases:
        response = await client.get(f"{WIDGET}?{query}", allow_redirects=False)
        assert response.status == status, (name, await response.text())
        assert "Set-Cookie" not in response.headers, name
        assert "Location" not in response.headers, name
        assert_error_shape(await response.json())


async def test_configured_cookie_and_redirect(
    tmp_path: Path, kv: KeyValueStore, clock: ManualClock, aiohttp_client: AiohttpClient
) -> None:
    with pytest.raises(ValueError, match="cookie"):
        TelegramWebConfig(cookie_name="bad name", redirect_url="/", secure_cookies=True)
    for target in ("//evil.example", "javascript:alert(1)", "/a\r\nSet-Cookie: x=1", "relative"):
        with pytest.raises(ValueError, match="redirect"):
            TelegramWebConfig(cookie_name="ok", redirect_url=target, secure_cookies=True)

    settings = settings_for(tmp_path, ratelimit=GENEROUS)
    container = await make_container(tmp_path, kv, clock, settings)
    try:
        telegram = TelegramWebConfig(
            cookie_name="tg_session", redirect_url="/app/home?from=telegram", secure_cookies=True
        )
        app = create_test_app(container, settings, version="1", mode="polling", telegram=telegram)
        client = await aiohttp_client(app)
        response = await client.get(WIDGET, params=widget_fields(clock), allow_redirects=False)
        assert response.status == 302
        assert response.headers["Location"] == "/app/home?from=telegram"
        set_cookie = response.headers["Set-Cookie"]
        assert set_cookie.startswith("tg_session=")
        assert "Secure" in set_cookie
        token = cookie_from(response, "tg_session")
        client.session.cookie_jar.clear()
        await me(client, {"Cookie": f"tg_session={token}"})
        await me(client, {"Cookie": f"unibot_access={token}"}, status=401)
    finally:
        await container.close()
        await container.db.dispose()


# --- link codes, unlinking, methods ---------------------------------------------------------------------------------


async def test_telegram_only_user_cannot_unlink(client: Client, clock: ManualClock) -> None:
    body = await sign_in(client, init_data(clock, tg_user(8001, "Solo")))
    token = bearer(body["access_token"])
    unlink = await client.delete(f"{API}/auth/telegram", headers=token)
    assert unlink.status == 409
    assert (await unlink.json())["error_code"] == "LAST_SIGN_IN_METHOD"
    methods = await get_json(client, f"{API}/auth/methods", token)
    assert methods == {
        "methods": ["telegram"],
        "telegram_id": 8001,
        "telegram_username": None,
        "email": None,
        "has_password": False,
    }
    code = await client.post(f"{API}/auth/telegram/link-code", headers=token)
    assert code.status == 409
    assert (await code.json())["error_code"] == "ALREADY_LINKED"


async def test_link_code_then_unlink(client: Client, clock: ManualClock) -> None:
    container: Container = client.app[CONTAINER]
    account = await register(client, "link@example.org")
    token = bearer(account["access_token"])
    assert (await client.delete(f"{API}/auth/telegram", headers=token)).status == 404
    methods = await get_json(client, f"{API}/auth/methods", token)
    assert methods["methods"] == ["password"]
    assert methods["telegram_id"] is None

    issued = await client.post(f"{API}/auth/telegram/link-code", headers=token)
    assert issued.status == 201
    assert issued.headers["Cache-Control"] == "no-store"
    body = await issued.json()
    assert set(body) == {"code", "expires_in", "link"}
    assert body["expires_in"] == 600
    assert body["link"] is None
    container.links.bot_username = "unibot_test_bot"
    named = await (await client.post(f"{API}/auth/telegram/link-code/", headers=token)).json()
    assert named["link"] == f"https://t.me/unibot_test_bot?start=link_{named['code']}"

    # What the bot does on /start link_<code>.
    async with container.unit_of_work(write=True) as uow:
        await IdentityService(uow).link_from_start(
            code=body["code"], profile=TelegramProfile(telegram_id=8101, first_name="Linked", username="linked_tg")
        )
    methods = await get_json(client, f"{API}/auth/methods", token)
    assert methods["methods"] == ["telegram", "password"]
    assert methods["telegram_username"] == "linked_tg"
    raw = init_data(clock, tg_user(8101, "Linked", username="linked_tg"))
    assert (await me(client, tma(raw)))["id"] == account["user_id"]

    unlink = await client.delete(f"{API}/auth/telegram/", headers=token)
    assert unlink.status == 200, await unlink.text()
    profile = await unlink.json()
    assert profile["id"] == account["user_id"]
    assert profile["telegram_id"] is None
    assert profile["username_tg"] is None
    assert profile["email"] == "link@example.org"
    methods = await get_json(client, f"{API}/auth/methods", token)
    assert methods["methods"] == ["password"]
    assert (await client.delete(f"{API}/auth/telegram", headers=token)).status == 404
    # The same (cached) initData now belongs to a Telegram account of its own, not to the email account.
    assert (await me(client, tma(raw)))["id"] != account["user_id"]


# --- the link page and its confirmation ------------------------------------------------------------------------------


async def test_link_page(client: Client) -> None:
    for path in ("/link?code=abc", "/link/?code=abc", "/link"):
        response = await client.get(path)
        assert response.status == 200
        assert response.content_type == "text/html"
        page = await response.text()
        assert '<meta name="referrer" content="no-referrer">' in page
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["Cache-Control"] == "no-store"
    assert CONFIRM in page
    assert "innerHTML" not in page
    assert "textContent" in page
    assert not re.search(r"""(src|href)=["']?https?:""", page)  # no external assets
    policy = response.headers["Content-Security-Policy"]
    script = re.search(r"<script>(.*?)</script>", page, re.DOTALL)
    assert script is not None
    digest = base64.b64encode(hashlib.sha256(script.group(1).encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in policy
    assert "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    # The look comes from the shared stylesheet on this origin, never from inline style.
    assert '<link rel="stylesheet" href="/static/app.css">' in page
    assert "<style" not in page
    assert "style-src 'self';" in policy
    stylesheet = await client.get("/static/app.css")
    assert stylesheet.status == 200
    assert stylesheet.content_type == "text/css"
    assert "button[disabled]" in await stylesheet.text()


async def telegram_user_and_code(client: Client, clock: ManualClock, telegram_id: int) -> tuple[dict[str, Any], str]:
    user = await sign_in(client, init_data(clock, tg_user(telegram_id, "Bare")))
    async with client.app[CONTAINER].unit_of_work(write=True) as uow:
        issued = await IdentityService(uow).issue_code_for_telegram(telegram_id)
    return user, issued.code


async def confirm(client: Client, code: str, login: str, password: str = PASSWORD, key: str = "login") -> Any:
    return await client.post(CONFIRM, json={"code": code, key: login, "password": password})


async def test_link_confirm_moves_telegram_onto_the_email_account(client: Client, clock: ManualClock) -> None:
    bare, code = await telegram_user_and_code(client, clock, 9001)
    account = await register(client, "owner@example.org")
    response = await confirm(client, code, "owner@example.org")
    assert response.status == 200, await response.text()
    assert await response.json() == {"result": "success", "user_id": account["user_id"], "telegram_id": 9001}

    # The bare user is retired, its tokens with it; Telegram now signs in to the email account.
    await me(client, bearer(bare["access_token"]), status=401)
    clock.advance(1)
    again = await sign_in(client, init_data(clock, tg_user(9001, "Bare")))
    assert again["created"] is False
    assert again["user_id"] == account["user_id"]
    methods = await get_json(client, f"{API}/auth/methods", bearer(account["access_token"]))
    assert methods["methods"] == ["telegram", "password"]

    reused = await confirm(client, code, "owner@example.org")
    assert reused.status == 422
    assert (await reused.json())["error_code"] == "INVALID_CODE"


async def test_link_confirm_accepts_email_key_and_validates(client: Client, clock: ManualClock) -> None:
    _, code = await telegram_user_and_code(client, clock, 9002)
    await register(client, "keyed@example.org")
    missing = await client.post(CONFIRM, json={"code": code, "password": PASSWORD})
    assert missing.status == 422
    assert PASSWORD not in await missing.text()
    unknown = await confirm(client, "no-such-code", "keyed@example.org")
    assert unknown.status == 422
    response = await confirm(client, code, "KEYED@example.org", key="email")
    assert response.status == 200, await response.text()


async def test_wrong_passwords_void_the_code(make_client: MakeClient, clock: ManualClock) -> None:
    client = await make_client(
        telegram_auth={"binding_code_max_attempts": 3}, ratelimit={**GENEROUS, "login_free_failures": 10}
    )
    _, code = await telegram_user_and_code(client, clock, 9003)
    await register(client, "careful@example.org")
    for _ in range(3):
        wrong = await confirm(client, code, "careful@example.org", "not the password")
        assert wrong.status == 401
        assert (await wrong.json())["error_code"] == "INVALID_CREDENTIALS"
    void = await confirm(client, code, "careful@example.org")
    assert void.status == 422


async def test_expired_code(client: Client, clock: ManualClock) -> None:
    _, code = await telegram_user_and_code(client, clock, 9004)
    await register(client, "late@example.org")
    clock.advance(600)
    expired = await confirm(client, code, "late@example.org")
    assert expired.status == 422


async def test_telegram_account_of_another_email_account_is_a_conflict(client: Client, clock: ManualClock) -> None:
    _, code = await telegram_user_and_code(client, clock, 9005)
    # A second code issued while the Telegram account was still bare, redeemed after the first link.
    async with client.app[CONTAINER].unit_of_work(write=True) as uow:
        second_code = (await IdentityService(uow).issue_code_for_telegram(9005)).code
    await register(client, "first@example.org")
    assert (await confirm(client, code, "first@example.org")).status == 200
    await register(client, "second@example.org")
    conflict = await confirm(client, second_code, "second@example.org")
    assert conflict.status == 409
    assert (await conflict.json())["error_code"] == "TELEGRAM_TAKEN"
    # Once linked, no new code is issued for that Telegram account at all.
    with pytest.raises(Conflict):
        async with client.app[CONTAINER].unit_of_work(write=True) as uow:
            await IdentityService(uow).issue_code_for_telegram(9005)


async def test_failed_sign_ins_are_throttled(make_client: MakeClient, clock: ManualClock) -> None:
    client = await make_client(ratelimit={**GENEROUS, "login_free_failures": 0})
    _, code = await telegram_user_and_code(client, clock, 9006)
    await register(client, "slow@example.org")
    assert (await confirm(client, code, "slow@example.org", "wrong")).status == 401
    throttled = await confirm(client, code, "slow@example.org")
    assert throttled.status == 429
    assert int(throttled.headers["Retry-After"]) >= 1


async def test_ten_concurrent_confirmations_link_once(client: Client, clock: ManualClock) -> None:
    _, code = await telegram_user_and_code(client, clock, 9007)
    await register(client, "racer@example.org")
    responses = await asyncio.gather(*(confirm(client, code, "racer@example.org") for _ in range(10)))
    statuses = sorted(response.status for response in responses)
    assert statuses == [200] + [422] * 9


async def test_routes_are_described(client: Client) -> None:
    spec = await (await client.get("/openapi.json")).json()
    paths = spec["paths"]
    expected: dict[str, set[str]] = {
        f"{API}/auth/telegram/webapp": {"post", "get"},
        f"{API}/auth/telegram/login": {"get"},
        f"{API}/auth/telegram/link-code": {"post"},
        f"{API}/auth/telegram": {"delete"},
        f"{API}/auth/referrals": {"get"},
        f"{API}/auth/methods": {"get"},
        CONFIRM: {"post"},
        "/link": {"get"},
    }
    for path, methods in expected.items():
        assert set(paths[path]) == methods, path
    confirm_body = paths[CONFIRM]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert confirm_body["$ref"].endswith("/LinkConfirmIn")
    assert paths[f"{API}/auth/referrals"]["get"]["security"] == [{"bearerAuth": []}]
    assert "format" in {p["name"] for p in paths[f"{API}/auth/telegram/login"]["get"]["parameters"]}


async def test_link_page_speaks_the_persons_language(client: Client) -> None:
    russian = await (await client.get("/link?code=abc&lang=ru")).text()
    assert '<html lang="ru">' in russian
    assert "Привяжите аккаунт Telegram" in russian
    assert "{{" not in russian
    english = await (await client.get("/link?code=abc", headers={"Accept-Language": "en-GB,ru;q=0.5"})).text()
    assert "Link your Telegram account" in english
    # The script reads its texts from a data block, so one hash admits it in every language.
    texts = re.search(r'<script type="application/json" id="texts">(.*?)</script>', russian, re.DOTALL)
    assert texts is not None
    assert json.loads(texts.group(1))["linked"].startswith("Аккаунт Telegram привязан")
    unknown = await (await client.get("/link?code=abc&lang=xx")).text()
    assert '<html lang="en">' in unknown
