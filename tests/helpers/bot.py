"""The bot's handlers driven one update at a time: the real dispatcher with its middlewares, aiogram's real HTTP
session talking to the local Telegram stand-in, and real services on a real database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.fsm.storage.memory import MemoryStorage

from bot.factory import create_bot, create_dispatcher, create_i18n
from bot.notify import BotNotifier
from core.clock import ManualClock
from core.container import Container
from core.settings import LOCAL_BOT_TOKEN
from fake_telegram import FakeTelegram, FakeUser, UserClient
from storage.kv import MemoryStore
from tests.helpers.app import make_container
from tests.helpers.catalogs import LOCALES

BOT_ID = int(LOCAL_BOT_TOKEN.split(":", 1)[0])


class BotHarness:
    def __init__(self, container: Container, bot: Bot, dispatcher: Dispatcher, users: UserClient) -> None:
        self.container = container
        self.bot = bot
        self.dispatcher = dispatcher
        self.users = users

    async def _feed_pending(self) -> None:
        # The updates the stand-in queued, fetched with getUpdates over the real session and fed one by one.
        updates = await self.bot.get_updates(timeout=0)
        for update in updates:
            await self.dispatcher.feed_update(self.bot, update)
        if updates:
            await self.bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)

    async def send(self, user: FakeUser, text: str) -> list[dict[str, Any]]:
        """The user writes `text`; the bot's messages in answer to it."""
        sent = await self.users.send_text(user, text)
        await self._feed_pending()
        return await self.users.messages(user["id"], after_id=int(sent["message_id"]))

    async def press(self, user: FakeUser, message_id: int, data: str) -> list[dict[str, Any]]:
        before = await self.users.messages(user["id"])
        last = max((int(m["message_id"]) for m in before), default=0)
        await self.users.press(user, message_id, data)
        await self._feed_pending()
        return await self.users.messages(user["id"], after_id=last)


@asynccontextmanager
async def bot_harness(
    tmp_path: Path, *, url: str | None = None, container: Container | None = None
) -> AsyncIterator[BotHarness]:
    own = container is None
    built = container or await make_container(tmp_path, MemoryStore(), ManualClock(), url=url)
    async with FakeTelegram("127.0.0.1", 0) as fake:
        bot = create_bot(LOCAL_BOT_TOKEN, fake.base_url)
        i18n = create_i18n(LOCALES, default_locale="en", domain="messages")
        built.notifier = BotNotifier(bot, i18n)
        built.links.public_base_url = "http://127.0.0.1:9"
        built.links.bot_username = (await bot.get_me()).username
        runtime = create_dispatcher(
            container=built, i18n=i18n, fsm_storage=MemoryStorage(), bot_id=bot.id, processing_ttl=60
        )
        async with UserClient(fake.base_url, bot_id=BOT_ID) as users:
            try:
                yield BotHarness(built, bot, runtime.dispatcher, users)
            finally:
                await bot.session.close()
                if own:
                    await built.close()
                    await built.db.dispose()
