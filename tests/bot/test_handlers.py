"""Handlers through the real dispatcher, one update at a time: replies, keyboards and database effects."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from aiogram.types import BotCommandScopeChat
from sqlalchemy import select

from core.auth import password_flows
from core.auth.service import AuthService, ClientInfo
from core.clock import ManualClock
from core.identity.service import IdentityService
from fake_telegram import FakeUser
from storage.kv import MemoryStore
from storage.models import User
from tests.helpers.app import make_container
from tests.helpers.app import test_settings as settings_with
from tests.helpers.bot import bot_harness

ANN: FakeUser = {"id": 7_100_000_001, "first_name": "Ann", "username": "ann_tg", "language_code": "en"}
BORIS: FakeUser = {"id": 7_100_000_002, "first_name": "Борис", "language_code": "ru"}
CLIENT = ClientInfo(ip="127.0.0.1", user_agent="test")


async def test_start_creates_the_user_and_help_lists_commands(tmp_path: Path, database_url: str) -> None:
    async with bot_harness(tmp_path, url=database_url) as harness:
        [welcome] = await harness.send(ANN, "/start")
        assert "Welcome, Ann" in welcome["text"]
        async with harness.container.unit_of_work(write=False) as uow:
            user = (await uow.session.execute(select(User).where(User.telegram_id == ANN["id"]))).scalar_one()
        assert user.telegram_username == "ann_tg"
        [help_text] = await harness.send(ANN, "/help")
        assert "/profile" in help_text["text"]


@pytest.mark.sqlite_only
async def test_read_only_handlers_never_wait_for_the_write_lock(tmp_path: Path, database_url: str) -> None:
    async with bot_harness(tmp_path, url=database_url) as harness:
        await harness.send(ANN, "/start")
        # Another process holds SQLite's write lock; /help and /profile still answer at once.
        locker = sqlite3.connect(tmp_path / "test.db", timeout=0)
        locker.execute("BEGIN IMMEDIATE")
        try:
            [answer] = await asyncio.wait_for(harness.send(ANN, "/profile"), 3)
            assert "Your profile" in answer["text"]
        finally:
            locker.rollback()
            locker.close()


async def test_plain_text_and_unknown_commands_get_a_hint_in_the_users_language(
    tmp_path: Path, database_url: str
) -> None:
    async with bot_harness(tmp_path, url=database_url) as harness:
        [hint] = await harness.send(ANN, "hello")
        assert "/help" in hint["text"]
        [unknown] = await harness.send(BORIS, "/nonsense")
        assert "/help" in unknown["text"]
        assert "команд" in unknown["text"]


async def test_disabled_user_is_refused_in_their_language(tmp_path: Path, database_url: str) -> None:
    async with bot_harness(tmp_path, url=database_url) as harness:
        await harness.send(BORIS, "/start")
        async with harness.container.unit_of_work(write=True) as uow:
            user = (await uow.session.execute(select(User).where(User.telegram_id == BORIS["id"]))).scalar_one()
            await AuthService(uow).set_active(user.id, False)
        [refusal] = await harness.send(BORIS, "/help")
        assert "отключ" in refusal["text"]
        [again] = await harness.send(BORIS, "привет")
        assert again["text"] == refusal["text"]


async def test_choosing_the_current_language_is_quiet_success(tmp_path: Path, database_url: str) -> None:
    async with bot_harness(tmp_path, url=database_url) as harness:
        [menu] = await harness.send(ANN, "/language")
        buttons = [button for row in menu["reply_markup"]["inline_keyboard"] for button in row]
        english = next(button for button in buttons if "English" in button["text"])
        await harness.press(ANN, menu["message_id"], english["callback_data"])
        # The same button again: the message would not change, which is success, not an error.
        replies = await harness.press(ANN, menu["message_id"], english["callback_data"])
        assert replies == []  # no apology in the chat
        answers = await harness.users.callback_answers()
        assert len(answers) == 2
        assert all("Language set" in (answer.get("text") or "") for answer in answers)
        failed = [call for call in await harness.users.calls() if not call["ok"]]
        # Only the edit Telegram refuses as "not modified"; never a second answer to the same query.
        assert [call["method"] for call in failed] == ["editMessageText"]
        assert "not modified" in failed[0]["description"]


async def test_choosing_a_language_sets_the_chats_command_menu(tmp_path: Path, database_url: str) -> None:
    async with bot_harness(tmp_path, url=database_url) as harness:
        [menu] = await harness.send(ANN, "/language")
        buttons = [button for row in menu["reply_markup"]["inline_keyboard"] for button in row]
        russian = next(button for button in buttons if "Русский" in button["text"])
        await harness.press(ANN, menu["message_id"], russian["callback_data"])
        commands = await harness.bot.get_my_commands(scope=BotCommandScopeChat(chat_id=ANN["id"]))
        descriptions = {command.command: command.description for command in commands}
        assert descriptions["language"] == "Сменить язык"


async def test_link_issues_a_page_in_the_users_language_and_the_web_confirmation_is_announced(
    tmp_path: Path, database_url: str
) -> None:
    async with bot_harness(tmp_path, url=database_url) as harness:
        await password_flows.register_email(
            harness.container,
            email="boris@example.org",
            password="Blue-Heron-Lantern-42",
            first_name=None,
            last_name=None,
            username=None,
            client=CLIENT,
        )
        [page] = await harness.send(BORIS, "/link")
        url = next(word for word in page["text"].split() if word.startswith("http"))
        assert "lang=ru" in url
        code = url.split("code=", 1)[1].split("&", 1)[0]
        await password_flows.link_with_password(
            harness.container, code=code, login="boris@example.org", password="Blue-Heron-Lantern-42", client=CLIENT
        )
        messages = await harness.users.messages(BORIS["id"], after_id=int(page["message_id"]))
        assert any("boris@example.org" in message["text"] for message in messages)


async def test_start_link_joins_the_account_that_asked(tmp_path: Path, database_url: str) -> None:
    async with bot_harness(tmp_path, url=database_url) as harness:
        user, _ = await password_flows.register_email(
            harness.container,
            email="ann@example.org",
            password="Blue-Heron-Lantern-42",
            first_name=None,
            last_name=None,
            username=None,
            client=CLIENT,
        )
        async with harness.container.unit_of_work(write=True) as uow:
            code = (await IdentityService(uow).issue_code_for_account(user.id)).code
        [answer] = await harness.send(ANN, f"/start link_{code}")
        assert "ann@example.org" in answer["text"]
        async with harness.container.unit_of_work(write=False) as uow:
            linked = await uow.session.get(User, user.id)
        assert linked is not None
        assert linked.telegram_id == ANN["id"]


@pytest.mark.sqlite_only
async def test_a_busy_database_gets_a_retry_notice_not_an_apology(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, db={"busy_timeout_ms": 200})
    container = await make_container(tmp_path, MemoryStore(), ManualClock(), settings)
    try:
        async with bot_harness(tmp_path, container=container) as harness:
            await harness.send(BORIS, "/start")
            # Another process holds SQLite's write lock past the busy timeout while /timezone writes.
            locker = sqlite3.connect(tmp_path / "test.db", timeout=0)
            locker.execute("BEGIN IMMEDIATE")
            try:
                [busy] = await harness.send(BORIS, "/timezone Europe/Moscow")
            finally:
                locker.rollback()
                locker.close()
            assert busy["text"] == "Сервис занят, повторите попытку через мгновение"
            [saved] = await harness.send(BORIS, "/timezone Europe/Moscow")
            assert saved["text"].startswith("Часовой пояс сохранён")
    finally:
        await container.close()
        await container.db.dispose()
