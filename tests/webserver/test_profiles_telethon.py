"""Telegram's errors as Telethon raises them (its real error classes, from the fake client object standing in for
TelegramClient and Telegram's servers) reach a client of the REST API as the documented answers."""

from __future__ import annotations

from typing import Any

import pytest
from telethon import errors

import run
from core.profiles.crypto import KeyRing
from core.profiles.service import ProfilesConfig
from mtproto.telethon_client import TelethonProfiles
from tests.helpers.app import Client
from tests.mtproto.fake_telethon import FakeTelegram as FakeTelegramServers
from tests.mtproto.fake_telethon import FakeTelethonClient
from tests.webserver.conftest import MakeClient

API = "/api/v1"
PHONE = "447700900123"
PHONE_2FA = "447700900456"
RING = KeyRing({"t1": bytes(range(32))}, "t1")


@pytest.fixture
def servers() -> FakeTelegramServers:
    world = FakeTelegramServers()
    world.add_account(PHONE, 1001, username="alice")
    world.add_account(PHONE_2FA, 1002, password="correct horse")
    return world


@pytest.fixture
async def client(make_client: MakeClient, servers: FakeTelegramServers, monkeypatch: pytest.MonkeyPatch) -> Client:
    """The app with the Telethon adapter as run.py builds it outside local mode, over the fake client."""

    def telethon_config(settings: Any) -> ProfilesConfig:
        port = TelethonProfiles(lambda text, flood: FakeTelethonClient(servers, text, flood), flood_sleep_threshold=10)
        return ProfilesConfig(port=port, keyring=RING, max_code_attempts=3)

    monkeypatch.setattr(run, "profiles_config", telethon_config)
    return await make_client(ratelimit={"auth_limit": 1000, "general_limit": 1000, "user_limit": 1000})


async def sign_up(client: Client) -> dict[str, str]:
    response = await client.post(f"{API}/auth/register", json={"email": "ann@example.org", "password": "x" * 12})
    return {"Authorization": f"Bearer {(await response.json())['access_token']}"}


async def answer(response: Any) -> tuple[int, str, Any]:
    body = await response.json()
    return response.status, body["error_code"], response.headers


async def test_login_errors(client: Client, servers: FakeTelegramServers) -> None:
    auth = await sign_up(client)
    servers.fail_next["send_code_request"] = errors.PhoneNumberInvalidError(request=None)
    status, code, _ = await answer(await client.post(f"{API}/profiles/start", json={"phone": PHONE}, headers=auth))
    assert (status, code) == (422, "PHONE_INVALID")

    assert (await client.post(f"{API}/profiles/start", json={"phone": PHONE}, headers=auth)).status == 200
    servers.fail_next["sign_in"] = errors.PhoneCodeInvalidError(request=None)
    status, code, headers = await answer(
        await client.post(f"{API}/profiles/code", json={"phone": PHONE, "code": "11111"}, headers=auth)
    )
    assert (status, code, headers["X-Attempts-Left"]) == (422, "CODE_INVALID", "2")
    servers.fail_next["sign_in"] = errors.FloodWaitError(request=None, capture=600)
    status, code, headers = await answer(
        await client.post(f"{API}/profiles/code", json={"phone": PHONE, "code": "12345"}, headers=auth)
    )
    assert (status, code, headers["Retry-After"]) == (429, "TELEGRAM_FLOOD_WAIT", "600")
    servers.fail_next["sign_in"] = errors.PhoneCodeExpiredError(request=None)
    status, code, _ = await answer(
        await client.post(f"{API}/profiles/code", json={"phone": PHONE, "code": "12345"}, headers=auth)
    )
    assert (status, code) == (410, "CODE_EXPIRED")
    # Expired means gone: the code has nothing left to continue.
    status, code, _ = await answer(
        await client.post(f"{API}/profiles/code", json={"phone": PHONE, "code": "12345"}, headers=auth)
    )
    assert (status, code) == (410, "CODE_EXPIRED")


async def test_two_step_login_and_a_revoked_session(client: Client, servers: FakeTelegramServers) -> None:
    auth = await sign_up(client)
    assert (await client.post("/profiles/start", json={"phone": "+" + PHONE_2FA}, headers=auth)).status == 200
    status, code, headers = await answer(
        await client.post(f"{API}/profiles/code", json={"phone": PHONE_2FA, "code": "12345"}, headers=auth)
    )
    assert (status, code, headers["X-Next-Step"]) == (403, "PASSWORD_NEEDED", "password")
    status, code, _ = await answer(
        await client.post(f"{API}/profiles/password", json={"phone": PHONE_2FA, "password": "wrong"}, headers=auth)
    )
    assert (status, code) == (422, "PASSWORD_INVALID")
    linked = await client.post(
        f"{API}/profiles/password", json={"phone": PHONE_2FA, "password": "correct horse"}, headers=auth
    )
    assert linked.status == 200, await linked.text()
    assert (await linked.json())["profile"]["telegram_id"] == 1002

    servers.fail_next["iter_dialogs"] = errors.FloodWaitError(request=None, capture=90)
    status, code, headers = await answer(
        await client.post(f"{API}/messages/dialogs", json={"phone": PHONE_2FA}, headers=auth)
    )
    assert (status, code, headers["Retry-After"]) == (429, "TELEGRAM_FLOOD_WAIT", "90")
    servers.fail_next["iter_dialogs"] = errors.AuthKeyUnregisteredError(request=None)
    status, code, _ = await answer(
        await client.post(f"{API}/messages/dialogs", json={"phone": PHONE_2FA}, headers=auth)
    )
    assert (status, code) == (409, "PROFILE_SESSION_REVOKED")
    listed = await (await client.get(f"{API}/profiles", headers=auth)).json()
    assert [p["state"] for p in listed["profiles"]] == ["revoked"]
