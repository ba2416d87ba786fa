"""Telegram profiles end to end in local mode: the whole app (run.py's Runtime) with its embedded stand-in acting as
Telegram's user side, over real HTTP, on a real SQLite file; then a restart with a wrong key and a key rotation."""

from __future__ import annotations

import asyncio
import base64
import logging
import re
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from core.profiles.crypto import KeyRing, SecretUnreadable, key_id_of
from core.profiles.sealing import session_context
from fake_telegram import FakeUser, UserClient
from run import StartupError, main
from storage.db import Database, DatabaseConfig
from storage.models import TelegramProfile
from tests.e2e.conftest import StartRuntime, e2e_settings

CHEAP_HASHING = {"argon2_memory_kib": 19456, "argon2_time_cost": 2, "argon2_parallelism": 1}
PASSWORD = "Blue-Heron-Lantern-42"
CLOUD_PASSWORD = "Amber-Fox-Meadow-9"
SECRET_TEXT = "meet at the old mill at nine"
REPLY_TEXT = "see you at the mill"
K1 = "k1:" + base64.b64encode(bytes(range(32))).decode()
K2 = "k2:" + base64.b64encode(bytes(range(40, 72))).decode()

ERIN: FakeUser = {"id": 6_100_000_001, "first_name": "Erin", "username": "erin_tg"}
FRANK: FakeUser = {"id": 6_100_000_002, "first_name": "Frank", "username": "frank_tg"}


async def test_whole_flow_in_local_mode(
    tmp_path: Path, start_runtime: StartRuntime, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = e2e_settings(tmp_path, auth=CHEAP_HASHING, profiles={"keys": K1})
    runtime = await start_runtime(settings)
    assert runtime.fake_telegram is not None
    api = f"{runtime.web_url}/api/v1"
    async with (
        asyncio.timeout(60),
        UserClient(runtime.fake_telegram.base_url, bot_id=1) as users,
        aiohttp.ClientSession() as http,
    ):
        await users.add_account(ERIN, "+15550201", password=CLOUD_PASSWORD, hint="fox")
        await users.add_account(FRANK, "+15550202")
        async with http.post(f"{api}/auth/register", json={"email": "erin@example.org", "password": PASSWORD}) as r:
            auth = {"Authorization": f"Bearer {(await r.json())['access_token']}"}

        async with http.post(f"{runtime.web_url}/profiles/start", json={"phone": "+15550201"}, headers=auth) as r:
            assert r.status == 200, await r.text()
        service_chat = await users.account_messages(ERIN["id"], 777000)
        found = re.search(r"\d{5}", service_chat[-1]["text"])
        assert found is not None
        code = found.group()
        async with http.post(f"{api}/profiles/code", json={"phone": "15550201", "code": code}, headers=auth) as r:
            assert r.status == 403
            assert (await r.json())["error_code"] == "PASSWORD_NEEDED"
        body = {"phone": "15550201", "password": CLOUD_PASSWORD}
        async with http.post(f"{api}/profiles/password", json=body, headers=auth) as r:
            assert r.status == 200, await r.text()
            profile_id = (await r.json())["profile"]["id"]
        sessions = list(runtime.fake_telegram.state.accounts.sessions)

        await users.account_send(FRANK["id"], ERIN["id"], SECRET_TEXT)
        async with http.post(f"{api}/messages/dialogs", json={"phone": "15550201"}, headers=auth) as r:
            dialogs = (await r.json())["dialogs"]
        assert [(d["id"], d["unread_count"]) for d in dialogs] == [(FRANK["id"], 1), (777000, 1)]
        async with http.get(f"{runtime.web_url}/messages/unread?phone=15550201", headers=auth) as r:
            unread = await r.json()
        assert [m["text"] for d in unread["dialogs"] if d["dialog"]["id"] == FRANK["id"] for m in d["messages"]] == [
            SECRET_TEXT
        ]
        send = {"phone": "15550201", "text": REPLY_TEXT, "tg_receiver": "@frank_tg"}
        async with http.post(f"{runtime.web_url}/messages/send", json=send, headers=auth) as r:
            assert r.status == 200, await r.text()
        # Frank sees it in the stand-in.
        assert (await users.account_messages(FRANK["id"], ERIN["id"]))[-1]["text"] == REPLY_TEXT
        async with http.get(f"{runtime.web_url}/health") as r:
            assert (await r.json())["features"] == {"profiles": "on"}

    logged = "\n".join(record.getMessage() + " " + repr(record.__dict__) for record in caplog.records)
    assert "profile action" in logged
    # As whole tokens: a five-digit code may well occur inside a timestamp's digits.
    for secret in (code, CLOUD_PASSWORD, SECRET_TEXT, REPLY_TEXT, *sessions):
        assert re.search(rf"(?<![0-9A-Za-z]){re.escape(secret)}(?![0-9A-Za-z])", logged) is None, secret

    db_path = tmp_path / "unibot.sqlite3"
    await runtime.stop()

    # A wrong key ring stops the start with a clear message.
    wrong = e2e_settings(tmp_path, auth=CHEAP_HASHING, profiles={"keys": K2})
    with pytest.raises(StartupError, match="profile key ring does not open"):
        await start_runtime(wrong)

    # Rotation: k2 current, k1 kept for reading; afterwards k2 alone opens the session.
    monkeypatch.setenv("UNIBOT_PROFILES__KEYS", f"{K2},{K1}")
    monkeypatch.setenv("UNIBOT_APP__DATA_DIR", str(tmp_path))
    monkeypatch.setenv("UNIBOT_APP__MODE", "local")
    assert await asyncio.to_thread(main, ["rotate-profile-key", "--config", str(tmp_path / "none.toml")]) == 0
    database = Database(DatabaseConfig(url=f"sqlite+aiosqlite:///{db_path}"))
    try:
        async with database.unit_of_work(write=False) as session:
            row = (await session.execute(select(TelegramProfile).where(TelegramProfile.id == profile_id))).scalar_one()
    finally:
        await database.dispose()
    assert row.session_sealed is not None
    assert key_id_of(row.session_sealed) == "k2"
    context = session_context(row.owner_id, row.phone)
    assert KeyRing.parse(K2).open(row.session_sealed, context).decode() in sessions
    with pytest.raises(SecretUnreadable):
        KeyRing.parse(K1).open(row.session_sealed, context)
