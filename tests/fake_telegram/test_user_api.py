from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.telegram import TelegramAPIServer
from aiohttp import web

from fake_telegram import FakeTelegram, FakeTelegramState, UserApiError, UserClient, create_fake_telegram_app

from .conftest import ALICE, BOT_ID, TOKEN, QuickCloseSession


async def request(fake: FakeTelegram, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.request(
        method, f"{fake.base_url}{path}", **kwargs
    ) as response:
        return response.status, await response.json(content_type=None)


@pytest.mark.parametrize(
    ("body", "status", "error_code"),
    [
        (b"{not json", 400, "invalid_json"),
        (b'["a list"]', 422, "validation_error"),
        (b'{"user": {"id": "abc", "first_name": "A"}, "text": "hi"}', 422, "validation_error"),
        (b'{"user": {"id": 1, "first_name": ""}, "text": "hi"}', 422, "validation_error"),
        (b'{"user": {"id": 1, "first_name": "A"}, "text": 5}', 422, "validation_error"),
        (b'{"user": {"id": 1, "first_name": "A"}, "text": "   "}', 422, "validation_error"),
    ],
)
async def test_bad_message_input_is_a_json_4xx(fake: FakeTelegram, body: bytes, status: int, error_code: str) -> None:
    got_status, got = await request(
        fake, "POST", f"/user-api/bots/{BOT_ID}/messages", data=body, headers={"Content-Type": "application/json"}
    )
    assert got_status == status
    assert got["error_code"] == error_code
    assert isinstance(got["detail"], str)
    assert got["detail"]


async def test_unknown_things_are_json_404s(fake: FakeTelegram, users: UserClient) -> None:
    status, body = await request(fake, "GET", "/user-api/nothing-here")
    assert status == 404
    assert body["error_code"] == "not_found"
    status, body = await request(fake, "GET", "/user-api/bots/not-a-number/state")
    assert status == 404
    assert "detail" in body

    with pytest.raises(UserApiError) as missing_message:
        await users.press(ALICE, 424242, "data")
    assert (missing_message.value.status, missing_message.value.error_code) == (404, "message_not_found")

    with pytest.raises(UserApiError) as missing_update:
        await users.redeliver(31337)
    assert (missing_update.value.status, missing_update.value.error_code) == (404, "update_not_found")

    status, body = await request(fake, "GET", f"/user-api/bots/{BOT_ID}/chats/1/messages", params={"wait": "x"})
    assert status == 400
    assert body["error_code"] == "invalid_query"


async def test_pressing_a_users_own_message_is_refused(users: UserClient) -> None:
    sent = await users.send_text(ALICE, "mine")
    with pytest.raises(UserApiError, match="message_not_found"):
        await users.press(ALICE, sent["message_id"], "x")


async def test_messages_long_poll_wakes_on_a_bot_message(bot: Bot, users: UserClient) -> None:
    sent = await users.send_text(ALICE, "hi")
    waiting = asyncio.create_task(users.messages(ALICE["id"], after_id=sent["message_id"], wait=5))
    await asyncio.sleep(0.1)
    assert not waiting.done()
    await bot.send_message(ALICE["id"], "there")
    async with asyncio.timeout(1):
        messages = await waiting
    assert [(m["from_bot"], m["text"]) for m in messages] == [(True, "there")]


async def test_wait_for_bot_message_times_out_helpfully(users: UserClient) -> None:
    await users.send_text(ALICE, "anyone?")
    with pytest.raises(TimeoutError, match="sent no message to chat 5001"):
        await users.wait_for_bot_message(ALICE["id"], timeout=0.2)


async def test_chat_page_is_self_contained(fake: FakeTelegram) -> None:
    async with aiohttp.ClientSession() as session, session.get(fake.page_url) as response:
        assert response.status == 200
        assert response.content_type == "text/html"
        html = await response.text()
    assert "Fake Telegram" in html
    assert "user-api/bots" in html
    assert "innerHTML" not in html
    assert "<script src" not in html
    assert "<link" not in html


async def test_stop_answers_pending_long_polls(bot: Bot, users: UserClient, fake: FakeTelegram) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    chat_wait = asyncio.create_task(users.messages(ALICE["id"], wait=30))
    await asyncio.sleep(0.1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await fake.stop()
    assert loop.time() - started < 2
    assert await poll == []
    assert await chat_wait == []


async def test_app_can_be_mounted_under_a_prefix() -> None:
    parent = web.Application()
    parent.add_subapp("/tg/", create_fake_telegram_app(FakeTelegramState()))
    runner = web.AppRunner(parent, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}/tg"
    mounted = Bot(TOKEN, session=QuickCloseSession(api=TelegramAPIServer.from_base(base)))
    try:
        assert (await mounted.get_me()).id == BOT_ID
        async with UserClient(base, BOT_ID) as client:
            await client.send_text(ALICE, "via prefix")
            assert [u.update_id for u in await mounted.get_updates()] != []
            with pytest.raises(UserApiError) as missing:
                await client.redeliver(999)
            assert missing.value.error_code == "update_not_found"
        async with aiohttp.ClientSession() as session, session.get(f"{base}/") as response:
            assert response.status == 200
    finally:
        await mounted.session.close()
        await runner.cleanup()
