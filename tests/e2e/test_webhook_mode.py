"""Webhook mode: the stand-in posts updates to the app's webhook route with the secret header."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from fake_telegram import FakeTelegram, FakeUser, UserClient
from run import Runtime
from storage.models import User
from tests.e2e.conftest import StartRuntime, e2e_settings
from tests.helpers.chat import say
from tests.helpers.net import free_port

TOKEN = "4242424242:webhook-test-token-abcdef-0123456789"
SECRET = "Webhook_secret-" + "x" * 30
BOB: FakeUser = {"id": 777_000_001, "first_name": "Bob", "language_code": "en"}


@pytest.fixture
async def webhook_app(tmp_path: Path, start_runtime: StartRuntime, fake_telegram: FakeTelegram) -> Runtime:
    port = free_port()
    settings = e2e_settings(
        tmp_path,
        app={"mode": "webhook"},
        bot={"token": TOKEN, "api_base_url": fake_telegram.base_url},
        web={"port": port, "public_url": f"http://127.0.0.1:{port}"},
        webhook={"url": f"http://127.0.0.1:{port}/telegram/webhook", "secret": SECRET},
        auth={"jwt_secret": "webhook-test-jwt-secret-" + "x" * 20},
    )
    # Outside local mode the schema is not migrated at start; do what `run.py migrate` does.
    from run import migrate

    await migrate(settings)
    return await start_runtime(settings)


async def user_count(runtime: Runtime) -> int:
    assert runtime.db is not None
    async with runtime.db.unit_of_work(write=False) as session:
        return int((await session.execute(select(func.count()).select_from(User))).scalar_one())


async def wait_delivered(client: UserClient) -> None:
    for _ in range(200):
        if (await client.state())["webhook"]["pending_update_count"] == 0:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError("the stand-in still has updates to deliver")


async def test_updates_arrive_through_the_webhook(webhook_app: Runtime, fake_telegram: FakeTelegram) -> None:
    async with UserClient(fake_telegram.base_url, 4242424242) as client:
        state = await client.state()
        assert state["webhook"]["url"].endswith("/telegram/webhook")
        reply = await say(client, BOB, "/start")
        assert "Welcome, Bob!" in reply["text"]


async def test_missing_or_wrong_secret_is_refused(webhook_app: Runtime) -> None:
    update: dict[str, Any] = {
        "update_id": 900,
        "message": {
            "message_id": 1,
            "date": 1_700_000_000,
            "chat": {"id": 1, "type": "private", "first_name": "Mallory"},
            "from": {"id": 1, "is_bot": False, "first_name": "Mallory"},
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }
    url = f"{webhook_app.web_url}/telegram/webhook"
    async with aiohttp.ClientSession() as http:
        for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}, {"X-Telegram-Bot-Api-Secret-Token": ""}):
            async with http.post(url, json=update, headers=headers) as response:
                assert response.status == 401
                body = await response.json()
                assert body["error_code"] == "UNAUTHORIZED"
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
        async with http.post(url, data=b"{not json", headers=headers) as response:
            assert response.status == 400
    # No handler ran: no user was created for Mallory.
    assert await user_count(webhook_app) == 0


async def test_redelivered_update_has_no_second_effect(webhook_app: Runtime, fake_telegram: FakeTelegram) -> None:
    async with UserClient(fake_telegram.base_url, 4242424242) as client:
        sent = await client.send_text(BOB, "/start")
        await client.wait_for_bot_message(BOB["id"], after_id=int(sent["message_id"]), timeout=10)
        await wait_delivered(client)
        before = await client.messages(BOB["id"])

        await client.redeliver(int(sent["update_id"]))
        await wait_delivered(client)
        # Something later that is handled proves the app is alive and has processed what came before.
        probe = await say(client, BOB, "/help")
        after = await client.messages(BOB["id"])

    bot_replies_before = [m for m in before if m["from_bot"]]
    bot_replies_after = [m for m in after if m["from_bot"] and m["message_id"] < probe["message_id"]]
    assert len(bot_replies_after) == len(bot_replies_before) == 1
    assert await user_count(webhook_app) == 1
