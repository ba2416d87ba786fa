from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramBadRequest, TelegramConflictError
from aiogram.methods import SendMessage
from aiogram.types import Message, WebhookInfo
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from fake_telegram import FakeTelegram, UserClient

from .conftest import ALICE, BORIS

SECRET = "s3cret-token_for_tests"


@dataclass
class Receiver:
    """A tiny webhook endpoint that records what it gets and answers from a script."""

    url: str = ""
    received: list[tuple[dict[str, Any], str | None]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    reply: Callable[[dict[str, Any]], dict[str, Any] | None] = lambda update: None
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        update = await request.json()
        self.received.append((update, request.headers.get("X-Telegram-Bot-Api-Secret-Token")))
        self.arrived.set()
        status = self.statuses.pop(0) if self.statuses else 200
        if status != 200:
            return web.Response(status=status, text="nope")
        body = self.reply(update)
        return web.json_response(body if body is not None else {})

    async def wait_for(self, count: int, seconds: float = 5.0) -> None:
        async with asyncio.timeout(seconds):
            while len(self.received) < count:
                self.arrived.clear()
                await self.arrived.wait()


async def serve(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def first_webhook_error(bot: Bot) -> WebhookInfo:
    for _ in range(150):
        info = await bot.get_webhook_info()
        if info.last_error_message is not None:
            return info
        await asyncio.sleep(0.02)
    raise AssertionError("the fake never recorded a webhook error")


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    target = Receiver()
    app = web.Application()
    app.router.add_post("/hook", target.handle)
    async for base in serve(app):
        target.url = f"{base}/hook"
        yield target


async def test_updates_are_posted_with_the_secret(bot: Bot, users: UserClient, receiver: Receiver) -> None:
    assert await bot.set_webhook(receiver.url, secret_token=SECRET) is True
    first = await users.send_text(ALICE, "one")
    second = await users.send_text(BORIS, "two")
    await receiver.wait_for(2)

    assert [u["update_id"] for u, _ in receiver.received] == [first["update_id"], second["update_id"]]
    assert {secret for _, secret in receiver.received} == {SECRET}
    assert receiver.received[0][0]["message"]["text"] == "one"
    info = await bot.get_webhook_info()
    assert info.url == receiver.url
    assert info.pending_update_count == 0
    assert info.last_error_message is None


async def test_failed_delivery_is_retried_and_reported(bot: Bot, users: UserClient, receiver: Receiver) -> None:
    receiver.statuses = [500, 500]
    await bot.set_webhook(receiver.url)
    sent = await users.send_text(ALICE, "retry me")
    await receiver.wait_for(3)

    assert [u["update_id"] for u, _ in receiver.received] == [sent["update_id"]] * 3
    info = await bot.get_webhook_info()
    assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
    assert info.last_error_date is not None
    assert info.pending_update_count == 0


async def test_unreachable_webhook_keeps_the_update(bot: Bot, users: UserClient) -> None:
    await bot.set_webhook("http://127.0.0.1:9/hook", max_connections=5)
    await users.send_text(ALICE, "lost?")
    info = await first_webhook_error(bot)
    assert info.last_error_message == "Connection refused"
    assert info.pending_update_count == 1
    assert info.max_connections == 5

    # Deleting the webhook stops delivery; the update is then available to getUpdates.
    assert await bot.delete_webhook() is True
    updates = await bot.get_updates()
    assert [u.message.text for u in updates if u.message] == ["lost?"]


async def test_get_updates_conflicts_with_a_webhook(bot: Bot, receiver: Receiver) -> None:
    await bot.set_webhook(receiver.url)
    with pytest.raises(TelegramConflictError, match="can't use getUpdates method while webhook is active"):
        await bot.get_updates()
    await bot.delete_webhook()
    assert await bot.get_updates() == []


async def test_bad_webhook_settings_are_rejected(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="secret token contains unallowed characters"):
        await bot.set_webhook("http://127.0.0.1:9/hook", secret_token="not allowed!")
    with pytest.raises(TelegramBadRequest, match="bad webhook"):
        await bot.set_webhook("ftp://127.0.0.1/hook")


async def test_redeliver_sends_the_same_update_again(bot: Bot, users: UserClient, receiver: Receiver) -> None:
    await bot.set_webhook(receiver.url)
    sent = await users.send_text(ALICE, "dup")
    await receiver.wait_for(1)
    result = await users.redeliver(sent["update_id"])
    assert result["update_id"] == sent["update_id"]
    await receiver.wait_for(2)
    first, second = (update for update, _ in receiver.received)
    assert first == second


async def test_json_method_reply_is_executed(bot: Bot, users: UserClient, receiver: Receiver) -> None:
    def echo(update: dict[str, Any]) -> dict[str, Any] | None:
        message = update["message"]
        return {"method": "sendMessage", "chat_id": message["chat"]["id"], "text": "echo: " + message["text"]}

    receiver.reply = echo
    await bot.set_webhook(receiver.url)
    sent = await users.send_text(ALICE, "ping")
    reply = await users.wait_for_bot_message(ALICE["id"], after_id=sent["message_id"], timeout=5)
    assert reply["text"] == "echo: ping"


@pytest.fixture
async def aiogram_webhook(fake: FakeTelegram, bot: Bot) -> AsyncIterator[str]:
    dispatcher = Dispatcher()

    @dispatcher.message()
    async def answer_in_reply(message: Message) -> SendMessage:
        return message.answer(f"<b>got</b> {message.text}", parse_mode="HTML")

    app = web.Application()
    SimpleRequestHandler(dispatcher, bot, secret_token=SECRET, handle_in_background=False).register(app, path="/tg")
    async for base in serve(app):
        yield f"{base}/tg"


async def test_aiogram_webhook_reply_is_executed(bot: Bot, users: UserClient, aiogram_webhook: str) -> None:
    await bot.set_webhook(aiogram_webhook, secret_token=SECRET)
    sent = await users.send_text(ALICE, "hello")
    reply = await users.wait_for_bot_message(ALICE["id"], after_id=sent["message_id"], timeout=5)
    assert reply["text"] == "got hello"
    assert reply["entities"] == [{"type": "bold", "offset": 0, "length": 3}]


async def test_wrong_secret_is_reported_as_telegram_would(
    bot: Bot, users: UserClient, aiogram_webhook: str
) -> None:
    await bot.set_webhook(aiogram_webhook, secret_token="another-secret")
    await users.send_text(ALICE, "hello")
    info = await first_webhook_error(bot)
    assert info.last_error_message == "Wrong response from the webhook: 401 Unauthorized"
    assert info.pending_update_count == 1


async def test_changing_the_webhook_moves_delivery(bot: Bot, users: UserClient, receiver: Receiver) -> None:
    await bot.set_webhook("http://127.0.0.1:9/hook")
    sent = await users.send_text(ALICE, "eventually")
    await first_webhook_error(bot)

    await bot.set_webhook(receiver.url, secret_token=SECRET)
    await receiver.wait_for(1)
    assert receiver.received == [(receiver.received[0][0], SECRET)]
    assert receiver.received[0][0]["update_id"] == sent["update_id"]
    info = await bot.get_webhook_info()
    assert info.url == receiver.url
    assert info.last_error_message is None


async def test_drop_pending_updates(bot: Bot, users: UserClient) -> None:
    await users.send_text(ALICE, "old 1")
    await users.send_text(ALICE, "old 2")
    await bot.set_webhook("http://127.0.0.1:9/hook", drop_pending_updates=True)
    assert (await bot.get_webhook_info()).pending_update_count == 0

    await users.send_text(ALICE, "old 3")
    await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates() == []
    fresh = await users.send_text(ALICE, "new")
    assert [u.update_id for u in await bot.get_updates()] == [fresh["update_id"]]
