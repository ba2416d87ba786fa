"""Work that opens units of work of its own waits until the update's transaction has committed.

On SQLite the update's transaction holds the write lock (BEGIN IMMEDIATE), so linking inside it would wait for
its own caller; these tests hold that transaction open the way the middleware does and bound every wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest
from aiogram.types import Message
from aiogram.types import User as TgUser
from aiogram.utils.i18n import I18n

from bot.middlewares.user import profile_of
from bot.routers.account import link_on_start
from core.auth.service import ClientInfo
from core.clock import ManualClock
from core.services import ServiceFactory
from storage.kv import MemoryStore
from storage.repositories.users import UserRepository
from tests.helpers.app import make_services
from tests.helpers.catalogs import LOCALES

SENDER = TgUser(id=7_300_000_001, is_bot=False, first_name="Tess", username="tess_tg", language_code="en")
CLIENT = ClientInfo(ip="127.0.0.1", user_agent="test")


class RecordingMessage:
    """Just what the linking outcome uses of a Message: the sender and `answer`."""

    def __init__(self, sender: TgUser) -> None:
        self.from_user = sender
        self.answers: list[str] = []

    async def answer(self, text: str, **_: Any) -> None:
        self.answers.append(text)


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[ServiceFactory]:
    factory = await make_services(tmp_path, MemoryStore(), ManualClock())
    yield factory
    await factory.db.dispose()


@pytest.fixture
def i18n() -> I18n:
    return I18n(path=LOCALES, default_locale="en", domain="messages")


async def account_code(services: ServiceFactory, email: str) -> tuple[int, str]:
    user, _ = await services.auth.register_email(
        email=email, password="Blue-Heron-Lantern-42", first_name=None, last_name=None, username=None, client=CLIENT
    )
    return user.id, (await services.identity.issue_code_for_account(user.id)).code


async def test_linking_runs_after_the_update_commits(services: ServiceFactory, i18n: I18n) -> None:
    account_id, code = await account_code(services, "tess@example.com")
    message = RecordingMessage(SENDER)
    async with asyncio.timeout(10):
        async with services.unit_of_work() as uow:
            # What the user middleware does first: the bare user of this sender, in the update's transaction.
            bare, created = await uow.users.ensure_telegram_user(profile_of(SENDER))
            assert created
            link_on_start(cast(Message, message), code, uow=uow, services=services, i18n=i18n, locale="ru")
            assert message.answers == []
        assert message.answers == ["Ваш аккаунт Telegram теперь привязан к tess@example.com."]
    async with services.unit_of_work(write=False) as uow:
        users = UserRepository(uow.session)
        owner = await users.by_telegram_id(SENDER.id)
        assert owner is not None
        assert owner.id == account_id
        assert await users.get(bare.id) is None


async def test_nothing_is_linked_when_the_update_fails(services: ServiceFactory, i18n: I18n) -> None:
    _, code = await account_code(services, "tess@example.com")
    message = RecordingMessage(SENDER)
    async with asyncio.timeout(10):
        with pytest.raises(RuntimeError):
            async with services.unit_of_work() as uow:
                await uow.users.ensure_telegram_user(profile_of(SENDER))
                link_on_start(cast(Message, message), code, uow=uow, services=services, i18n=i18n, locale="en")
                raise RuntimeError("the handler failed after queueing")
    assert message.answers == []
    # The code was not spent, so the person can simply open the link again.
    retry = RecordingMessage(SENDER)
    async with asyncio.timeout(10):
        async with services.unit_of_work() as uow:
            await uow.users.ensure_telegram_user(profile_of(SENDER))
            link_on_start(cast(Message, retry), code, uow=uow, services=services, i18n=i18n, locale="en")
    assert retry.answers == ["Your Telegram account is now linked to tess@example.com."]
