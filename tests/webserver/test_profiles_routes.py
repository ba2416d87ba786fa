"""Telegram profiles over real HTTP: the app on 127.0.0.1, real services on both databases and stores, and the
Telegram stand-in acting as Telegram's user side (its accounts, login codes from 777000, cloud passwords)."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from core.profiles.service import ProfilesConfig, ProfilesService
from fake_telegram import FakeTelegram, FakeUser, UserClient
from mtproto.stand_in_client import StandInProfiles
from tests.helpers.app import Client
from tests.webserver.conftest import MakeClient
from webserver.keys import CONTAINER

API = "/api/v1"
PASSWORD = "correct horse battery"
CLOUD_PASSWORD = "Heron-Lantern-42"
SERVICE = 777000
LIMITS = {"auth_limit": 1000, "general_limit": 1000, "user_limit": 1000}

TG_ANN: FakeUser = {"id": 8001, "first_name": "Ann", "username": "ann_tg"}
TG_CAROL: FakeUser = {"id": 8003, "first_name": "Carol", "username": "carol_tg"}
ANN_PHONE = "15550001"
CAROL_PHONE = "15550003"


@pytest.fixture
async def stand_in() -> AsyncIterator[tuple[FakeTelegram, UserClient]]:
    async with FakeTelegram() as fake, UserClient(fake.base_url, bot_id=1) as users:
        await users.add_account(TG_ANN, ANN_PHONE, password=CLOUD_PASSWORD, hint="bird")
        await users.add_account(TG_CAROL, CAROL_PHONE)
        yield fake, users


async def app_on(make_client: MakeClient, fake: FakeTelegram, **sections: dict[str, Any]) -> Client:
    client = await make_client(ratelimit=LIMITS, **sections)
    port = client.app[CONTAINER].config(ProfilesConfig).port
    assert isinstance(port, StandInProfiles)
    port.bind(fake.base_url)
    return client


async def sign_up(client: Client, email: str) -> dict[str, str]:
    response = await client.post(f"{API}/auth/register", json={"email": email, "password": PASSWORD})
    assert response.status == 200, await response.text()
    return {"Authorization": f"Bearer {(await response.json())['access_token']}"}


async def last_code(users: UserClient, account_id: int) -> str:
    found = re.search(r"\d{5}", (await users.account_messages(account_id, SERVICE))[-1]["text"])
    assert found is not None
    return found.group()


async def link(client: Client, users: UserClient, auth: dict[str, str], phone: str, account_id: int) -> int:
    started = await client.post(f"{API}/profiles/start", json={"phone": "+" + phone}, headers=auth)
    assert started.status == 200, await started.text()
    code = await last_code(users, account_id)
    linked = await client.post(f"{API}/profiles/code", json={"phone": phone, "code": code}, headers=auth)
    assert linked.status == 200, await linked.text()
    profile_id: int = (await linked.json())["profile"]["id"]
    return profile_id


async def test_whole_flow_and_owner_only(
    make_client: MakeClient, stand_in: tuple[FakeTelegram, UserClient], caplog: pytest.LogCaptureFixture
) -> None:
    fake, users = stand_in
    caplog.set_level(logging.DEBUG)
    client = await app_on(make_client, fake)
    ann = await sign_up(client, "ann@example.org")
    bob = await sign_up(client, "bob@example.org")

    started = await client.post(f"{API}/profiles/start", json={"phone": "+1 555-0001"}, headers=ann)
    assert started.status == 200, await started.text()
    body = await started.json()
    assert body["code_sent"] is True
    assert body["phone"] == "+15****01"
    assert 0 < body["expires_in"] <= 300
    code = await last_code(users, TG_ANN["id"])
    wrong = "00000" if code != "00000" else "11111"

    refused = await client.post(f"{API}/profiles/code", json={"phone": ANN_PHONE, "code": wrong}, headers=ann)
    assert refused.status == 422
    assert (await refused.json())["error_code"] == "CODE_INVALID"
    assert refused.headers["X-Attempts-Left"] == "4"
    needed = await client.post(f"{API}/profiles/code", json={"phone": ANN_PHONE, "code": code}, headers=ann)
    assert needed.status == 403
    needed_body = await needed.json()
    assert needed_body["error_code"] == "PASSWORD_NEEDED"
    assert "/profiles/password" in needed_body["detail"]
    assert needed.headers["X-Next-Step"] == "password"
    bad = await client.post(f"{API}/profiles/password", json={"phone": ANN_PHONE, "password": "nope"}, headers=ann)
    assert bad.status == 422
    assert (await bad.json())["error_code"] == "PASSWORD_INVALID"
    # The seed's own path, without /api/v1.
    linked = await client.post("/profiles/password", json={"phone": ANN_PHONE, "password": CLOUD_PASSWORD}, headers=ann)
    assert linked.status == 200, await linked.text()
    profile = (await linked.json())["profile"]
    sessions = list(fake.state.accounts.sessions)
    assert sessions
    assert profile["telegram_id"] == TG_ANN["id"]
    assert profile["state"] == "active"

    await users.account_send(TG_CAROL["id"], TG_ANN["id"], "carol's private words")
    listed = await (await client.get(f"{API}/profiles", headers=ann)).json()
    assert [(p["id"], p["phone"], p["state"]) for p in listed["profiles"]] == [(profile["id"], "+15****01", "active")]
    # Carol's message and the login code from 777000.
    assert listed["profiles"][0]["unread_total"] == 2

    page = await client.post(f"{API}/messages/dialogs", json={"phone": ANN_PHONE, "limit": 1}, headers=ann)
    assert page.status == 200, await page.text()
    first = await page.json()
    assert [d["id"] for d in first["dialogs"]] == [TG_CAROL["id"]]
    assert first["next_offset"] == 1
    second = await (await client.post("/messages/dialogs", json={"phone": ANN_PHONE, "offset": 1}, headers=ann)).json()
    assert [d["id"] for d in second["dialogs"]] == [SERVICE]
    assert second["next_offset"] is None

    by_get = await client.get(f"{API}/messages/unread", params={"phone": "+" + ANN_PHONE}, headers=ann)
    assert by_get.status == 200, await by_get.text()
    unread = await by_get.json()
    texts = {d["dialog"]["id"]: [m["text"] for m in d["messages"]] for d in unread["dialogs"]}
    assert texts[TG_CAROL["id"]] == ["carol's private words"]
    by_post = await client.post("/messages/unread", json={"phone": ANN_PHONE}, headers=ann)
    assert (await by_post.json())["total"] == unread["total"] == 2

    sent = await client.post(
        f"{API}/messages/send",
        json={"phone": ANN_PHONE, "text": "ann's reply text", "tg_receiver": "@carol_tg"},
        headers=ann,
    )
    assert sent.status == 200, await sent.text()
    assert (await sent.json())["dialog_id"] == TG_CAROL["id"]
    assert (await users.account_messages(TG_CAROL["id"], TG_ANN["id"]))[-1]["text"] == "ann's reply text"
    by_id = await client.post(
        "/messages/send", json={"phone": ANN_PHONE, "text": "by id", "tg_receiver": TG_CAROL["id"]}, headers=ann
    )
    assert by_id.status == 200
    nobody = await client.post(
        f"{API}/messages/send", json={"phone": ANN_PHONE, "text": "x", "tg_receiver": "@nobody_here"}, headers=ann
    )
    assert nobody.status == 404
    assert (await nobody.json())["error_code"] == "PEER_NOT_FOUND"

    me = await (await client.get("/utils/me", headers=ann)).json()
    assert me["user"]["email"] == "ann@example.org"
    assert [p["id"] for p in me["profiles"]] == [profile["id"]]

    # Bob reaches none of it.
    assert (await (await client.get(f"{API}/profiles", headers=bob)).json())["profiles"] == []
    for response in (
        await client.delete(f"{API}/profiles/{profile['id']}", headers=bob),
        await client.post(f"{API}/messages/unread", json={"phone": ANN_PHONE}, headers=bob),
        await client.post(
            f"{API}/messages/send", json={"phone": ANN_PHONE, "text": "x", "tg_receiver": 1}, headers=bob
        ),
    ):
        assert response.status == 404
        assert (await response.json())["error_code"] == "PROFILE_NOT_FOUND"

    # Terminated from another device: the profile becomes revoked, and says how to come back.
    await users.revoke_sessions(TG_ANN["id"])
    dead = await client.post(f"{API}/messages/dialogs", json={"phone": ANN_PHONE, "offset": 5}, headers=ann)
    assert dead.status == 409
    assert (await dead.json())["error_code"] == "PROFILE_SESSION_REVOKED"
    listed = await (await client.get(f"{API}/profiles", headers=ann)).json()
    assert listed["profiles"][0]["state"] == "revoked"
    again = await client.post(f"{API}/messages/unread", json={"phone": ANN_PHONE}, headers=ann)
    assert (await again.json())["error_code"] == "PROFILE_REVOKED"

    removed = await client.delete(f"/profiles/{profile['id']}", headers=ann)
    assert removed.status == 200, await removed.text()
    assert (await (await client.get(f"{API}/profiles", headers=ann)).json())["profiles"] == []
    assert (await client.delete(f"{API}/profiles/{profile['id']}", headers=ann)).status == 404
    assert (await client.delete(f"{API}/profiles/abc", headers=ann)).status == 422

    # One event per action, and nothing secret anywhere in the logs.
    events = [r for r in caplog.records if r.getMessage() == "profile action"]
    actions = [(r.__dict__["action"], r.__dict__["outcome"]) for r in events]
    assert ("code", "code_invalid") in actions
    assert ("code", "password_needed") in actions
    assert ("password", "ok") in actions
    assert ("send", "ok") in actions
    assert ("remove", "ok") in actions
    assert all(isinstance(r.__dict__["duration_ms"], float) for r in events)
    logged = "\n".join(r.getMessage() + " " + repr(r.__dict__) for r in caplog.records)
    # As whole tokens: a five-digit code may well occur inside a timestamp's digits.
    for secret in (code, CLOUD_PASSWORD, "carol's private words", "ann's reply text", *sessions):
        assert re.search(rf"(?<![0-9A-Za-z]){re.escape(secret)}(?![0-9A-Za-z])", logged) is None, secret


async def test_login_edges_limits_and_flood(make_client: MakeClient, stand_in: tuple[FakeTelegram, UserClient]) -> None:
    fake, users = stand_in
    client = await app_on(make_client, fake, profiles={"send_per_minute": 2})
    ann = await sign_up(client, "ann@example.org")
    # No login started: the code has nothing to continue.
    expired = await client.post(f"{API}/profiles/code", json={"phone": CAROL_PHONE, "code": "12345"}, headers=ann)
    assert expired.status == 410
    assert (await expired.json())["error_code"] == "CODE_EXPIRED"
    for phone, status, error in (("12", 422, "PHONE_INVALID"), ("15559999", 403, "PHONE_UNREGISTERED")):
        response = await client.post(f"{API}/profiles/start", json={"phone": phone}, headers=ann)
        assert response.status == status
        assert (await response.json())["error_code"] == error
    missing = await client.post(f"{API}/profiles/start", json={}, headers=ann)
    assert missing.status == 422
    assert (await client.get(f"{API}/profiles")).status == 401

    await link(client, users, ann, CAROL_PHONE, TG_CAROL["id"])
    payload = {"phone": CAROL_PHONE, "text": "hi", "tg_receiver": "@ann_tg"}
    for _ in range(2):
        assert (await client.post(f"{API}/messages/send", json=payload, headers=ann)).status == 200
    limited = await client.post(f"{API}/messages/send", json=payload, headers=ann)
    assert limited.status == 429
    assert (await limited.json())["error_code"] == "PROFILE_SEND_LIMITED"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60

    await users.flood_next_call(TG_CAROL["id"], 300)
    flood = await client.post(f"{API}/messages/unread", json={"phone": CAROL_PHONE}, headers=ann)
    assert flood.status == 429
    assert (await flood.json())["error_code"] == "TELEGRAM_FLOOD_WAIT"
    assert flood.headers["Retry-After"] == "300"


async def test_off_without_api_credentials(make_client: MakeClient) -> None:
    client = await make_client(
        ratelimit=LIMITS,
        app={"mode": "polling"},
        bot={"token": "123456:AAH-fake_token_for_tests_only_0123456789"},
        auth={"jwt_secret": "x" * 48},
    )
    health = await (await client.get("/health")).json()
    assert health["features"]["profiles"].startswith("off: UNIBOT_PROFILES__API_ID")
    ann = await sign_up(client, "ann@example.org")
    response = await client.post(f"{API}/profiles/start", json={"phone": ANN_PHONE}, headers=ann)
    assert response.status == 503
    body = await response.json()
    assert body["error_code"] == "PROFILES_DISABLED"
    assert "API_ID" in body["detail"]


async def test_aliases_are_marked_in_openapi(client: Client) -> None:
    spec = await (await client.get("/openapi.json")).json()
    paths = spec["paths"]
    assert paths["/profiles/start"]["post"]["x-alias-of"] == f"{API}/profiles/start"
    assert paths["/messages/dialogs"]["post"]["x-alias-of"] == f"{API}/messages/dialogs"
    assert paths["/utils/me"]["get"]["x-alias-of"] == f"{API}/utils/me"
    for alias, original in (
        ("/auth/register", f"{API}/auth/register"),
        ("/auth/login", f"{API}/auth/login"),
        ("/refresh", f"{API}/auth/refresh"),
        ("/logout", f"{API}/auth/logout"),
    ):
        assert paths[alias]["post"]["x-alias-of"] == original
    assert "410" in paths[f"{API}/profiles/code"]["post"]["responses"]


async def test_add_page_has_a_strict_policy(client: Client) -> None:
    response = await client.get("/profiles/add")
    assert response.status == 200
    assert response.content_type == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert policy.startswith("default-src 'none'; script-src 'sha256-")
    assert "unsafe-inline" not in policy
    assert "form-action 'none'" in policy
    assert "style-src 'self';" in policy
    assert response.headers["Cache-Control"] == "no-store"
    page = await response.text()
    assert '<link rel="stylesheet" href="/static/app.css">' in page
    assert "/api/v1/profiles/" in page
    assert "invalidates a login code" in page


BAD_INPUTS = [
    ("POST", f"{API}/profiles/start", {"phone": 12345678}),
    ("POST", f"{API}/profiles/start", {"phone": "+1 (555) abc"}),
    ("POST", f"{API}/profiles/start", {"phone": "٥٥٥٠٠٠١٢٣٤"}),
    ("POST", f"{API}/profiles/start", {"phone": "1" * 40}),
    ("POST", f"{API}/profiles/code", {"phone": ANN_PHONE}),
    ("POST", f"{API}/profiles/code", {"phone": ANN_PHONE, "code": "1" * 17}),
    ("POST", f"{API}/profiles/code", {"phone": ANN_PHONE, "code": "12\x0045"}),
    ("POST", f"{API}/profiles/password", {"phone": ANN_PHONE, "password": ["x"]}),
    ("POST", f"{API}/messages/send", {"phone": ANN_PHONE, "text": "hi", "tg_receiver": True}),
    ("POST", f"{API}/messages/send", {"phone": ANN_PHONE, "text": "hi", "tg_receiver": 10**30}),
    ("POST", f"{API}/messages/send", {"phone": ANN_PHONE, "text": "hi", "tg_receiver": "@x"}),
    ("POST", f"{API}/messages/send", {"phone": ANN_PHONE, "text": "", "tg_receiver": 5}),
    ("POST", f"{API}/messages/send", {"phone": ANN_PHONE, "text": "x" * 4097, "tg_receiver": 5}),
    ("POST", f"{API}/messages/dialogs", {"phone": ANN_PHONE, "offset": -1}),
    ("POST", f"{API}/messages/dialogs", {"phone": ANN_PHONE, "limit": 1000}),
    ("GET", f"{API}/messages/unread", None),
    ("DELETE", f"{API}/profiles/99999999999999999999", None),
    ("DELETE", f"{API}/profiles/0", None),
]


@pytest.mark.parametrize(("method", "path", "body"), BAD_INPUTS)
async def test_bad_input_gets_a_clear_4xx(client: Client, method: str, path: str, body: dict[str, Any] | None) -> None:
    auth = await sign_up(client, "ann@example.org")
    response = await client.request(method, path, json=body, headers=auth)
    assert 400 <= response.status < 500, await response.text()
    answer = await response.json()
    assert set(answer) >= {"detail", "error_code", "timestamp"}


async def test_page_code_is_exchanged_once_for_a_session(client: Client) -> None:
    ann = await sign_up(client, "ann@example.org")
    container = client.app[CONTAINER]
    me = await (await client.get(f"{API}/users/me", headers=ann)).json()
    async with container.unit_of_work(write=False) as uow:
        code, seconds = await ProfilesService(uow).issue_page_code(me["id"])
    assert seconds == 600
    exchanged = await client.post(f"{API}/profiles/page-session", json={"code": code})
    assert exchanged.status == 200, await exchanged.text()
    token = (await exchanged.json())["access_token"]
    listed = await client.get(f"{API}/profiles", headers={"Authorization": f"Bearer {token}"})
    assert listed.status == 200
    again = await client.post(f"{API}/profiles/page-session", json={"code": code})
    assert again.status == 422
    assert (await again.json())["error_code"] == "PAGE_CODE_INVALID"
    assert (await client.post(f"{API}/profiles/page-session", json={"code": "guess"})).status == 422
