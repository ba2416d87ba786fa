from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from fake_telegram import FakeTelegram, FakeUser, UserClient

BOT_ID = 123456
TOKEN = f"{BOT_ID}:AAH-fake_token_for_tests"
ALICE: FakeUser = {"id": 5001, "first_name": "Alice", "username": "alice_test", "language_code": "en"}
BORIS: FakeUser = {"id": 5002, "first_name": "Boris", "language_code": "ru"}


class QuickCloseSession(AiohttpSession):
    """aiogram's session with the 250 ms TLS grace period on close skipped: the fake speaks plain HTTP."""

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


def make_bot(fake: FakeTelegram, token: str = TOKEN) -> Bot:
    return Bot(token, session=QuickCloseSession(api=TelegramAPIServer.from_base(fake.base_url)))


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram("127.0.0.1", 0, retry_initial=0.05, retry_max=0.2, delivery_timeout=5.0)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    instance = make_bot(fake)
    try:
        yield instance
    finally:
        await instance.session.close()


@pytest.fixture
async def users(fake: FakeTelegram) -> AsyncIterator[UserClient]:
    async with UserClient(fake.base_url, BOT_ID) as client:
        yield client
