"""The admin tools, the level flag, bans and flood control in the bot, end to end through the local stand-in: the
real dispatcher, aiogram's real HTTP session, real services on SQLite (in-process store) and PostgreSQL (Redis)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.types import Chat, Message, Update
from aiogram.types import User as TgUser
from pytest_aiohttp import AiohttpClient
from sqlalchemy import select

from bot.factory import create_dispatcher, create_i18n
from bot.keyboards.access import AdminSet
from core.access import jobs as access_jobs
from core.auth.service import AuthService, ClientInfo
from core.clock import ManualClock
from fake_telegram import FakeUser
from storage.kv import KeyValueStore, MemoryStore
from storage.models import AuditEntry, User
from tests.helpers.app import create_test_app, make_container
from tests.helpers.app import test_settings as build_settings
from tests.helpers.bot import BotHarness, bot_harness
from tests.helpers.catalogs import LOCALES

ADMIN: FakeUser = {"id": 7_200_000_001, "first_name": "Ada", "username": "ada_admin", "language_code": "en"}
ANN: FakeUser = {"id": 7_200_000_002, "first_name": "Ann", "username": "ann_tg", "language_code": "en"}
BORIS: FakeUser = {"id": 7_200_000_003, "first_name": "Борис", "username": "boris_tg", "language_code": "ru"}


@asynccontextmanager
async def harness_for(
    tmp_path: Path,
    kv: KeyValueStore,
    clock: ManualClock,
    url: str,
    ratelimit: dict[str, Any] | None = None,
    **access: Any,
) -> AsyncIterator[BotHarness]:
    """The bot over a container whose settings name ADMIN as the first admin, prepared as run.py starts it."""
    settings = build_settings(
        tmp_path, access={"initial_admin_telegram_ids": [ADMIN["id"]], **access}, ratelimit=ratelimit or {}
    )
    container = await make_container(tmp_path, kv, clock, settings, url=url)
    await access_jobs.apply_initial_admins(container)
    try:
        async with bot_harness(tmp_path, container=container) as harness:
            harness.settings = settings  # type: ignore[attr-defined]
            yield harness
    finally:
        await container.close()
        await container.db.dispose()


def buttons(message: dict[str, Any]) -> dict[str, str]:
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return {button["text"]: button["callback_data"] for row in rows for button in row}


async def message_by_id(harness: BotHarness, chat: int, message_id: int) -> dict[str, Any]:
    return next(m for m in await harness.users.messages(chat) if m["message_id"] == message_id)


async def user_row(harness: BotHarness, telegram_id: int) -> User:
    async with harness.container.unit_of_work(write=False) as uow:
        return (await uow.session.execute(select(User).where(User.telegram_id == telegram_id))).scalar_one()


async def audit(harness: BotHarness) -> list[AuditEntry]:
    async with harness.container.unit_of_work(write=False) as uow:
        return list((await uow.session.execute(select(AuditEntry).order_by(AuditEntry.id))).scalars())


async def last_answer(harness: BotHarness) -> str:
    answers = await harness.users.callback_answers()
    return str(answers[-1].get("text") or "")


async def test_admin_from_settings_finds_a_user_and_grants_beta(
    tmp_path: Path, kv: KeyValueStore, clock: ManualClock, database_url: str
) -> None:
    async with harness_for(tmp_path, kv, clock, database_url) as harness:
        await harness.send(ANN, "/start")
        [refused] = await harness.send(ANN, "/whoami")
        assert refused["text"] == "You do not have access to BETA."
        [summary] = await harness.send(ADMIN, "/admin")
        assert "Users in total: 2" in summary["text"]
        assert "New today: 2" in summary["text"]
        [card] = await harness.send(ADMIN, "/user @ann_tg")
        assert "User #" in card["text"]
        assert "Levels: —" in card["text"]
        # The bot restarts (a new dispatcher, nothing kept in memory) before the admin presses the card's button.
        harness.dispatcher = create_dispatcher(
            container=harness.container,
            i18n=create_i18n(LOCALES, default_locale="en", domain="messages"),
            fsm_storage=MemoryStorage(),
            bot_id=harness.bot.id,
            processing_ttl=60,
        ).dispatcher
        await harness.press(ADMIN, card["message_id"], buttons(card)["Grant BETA"])
        assert await last_answer(harness) == "Saved."
        edited = await message_by_id(harness, ADMIN["id"], card["message_id"])
        assert "Levels: BETA" in edited["text"]
        assert "Revoke BETA" in buttons(edited)
        [allowed] = await harness.send(ANN, "/whoami")
        assert "Levels: BETA" in allowed["text"]
        ann = await user_row(harness, ANN["id"])
        entries = await audit(harness)
        assert [(e.face, e.action, e.target_id) for e in entries][-1] == ("bot", "user.update", ann.id)
        assert entries[-1].after == {"has_beta_access": True}
        assert entries[-1].request_id is not None
        assert entries[-1].request_id.isdigit()
        assert (entries[0].face, entries[0].action) == ("system", "admin.initial")


async def test_ban_asks_for_confirmation_and_then_refuses_in_the_bot_and_on_rest(
    tmp_path: Path, kv: KeyValueStore, clock: ManualClock, database_url: str, aiohttp_client: AiohttpClient
) -> None:
    async with harness_for(tmp_path, kv, clock, database_url) as harness:
        await harness.send(BORIS, "/start")
        boris = await user_row(harness, BORIS["id"])
        async with harness.container.unit_of_work(write=True) as uow:
            tokens = await AuthService(uow).open_session(boris.id, method="test", client=ClientInfo())
        client = await aiohttp_client(create_test_app(harness.container, harness.settings))  # type: ignore[attr-defined]
        me = {"Authorization": f"Bearer {tokens.access_token}"}
        assert (await client.get("/api/v1/users/me", headers=me)).status == 200

        [card] = await harness.send(ADMIN, f"/user {boris.id}")
        await harness.press(ADMIN, card["message_id"], buttons(card)["Ban"])
        question = await message_by_id(harness, ADMIN["id"], card["message_id"])
        assert "Ban user" in question["text"]
        assert (await user_row(harness, BORIS["id"])).is_active is True
        await harness.press(ADMIN, card["message_id"], buttons(question)["Yes, ban this user"])
        assert (await user_row(harness, BORIS["id"])).is_active is False
        [refusal] = await harness.send(BORIS, "/help")
        assert "отключ" in refusal["text"]
        assert (await client.get("/api/v1/users/me", headers=me)).status == 401
        entries = [e for e in await audit(harness) if e.target_id == boris.id]
        assert [(e.face, e.before, e.after) for e in entries] == [("bot", {"is_active": True}, {"is_active": False})]

        banned = await message_by_id(harness, ADMIN["id"], card["message_id"])
        await harness.press(ADMIN, card["message_id"], buttons(banned)["Unban"])
        assert (await user_row(harness, BORIS["id"])).is_active is True
        [back] = await harness.send(BORIS, "/help")
        assert "/help" in back["text"] or "/start" in back["text"]


async def test_non_admins_stale_buttons_and_other_admins_get_clear_answers(
    tmp_path: Path, kv: KeyValueStore, clock: ManualClock, database_url: str
) -> None:
    async with harness_for(tmp_path, kv, clock, database_url) as harness:
        await harness.send(ANN, "/start")
        await harness.send(BORIS, "/start")
        ann = await user_row(harness, ANN["id"])
        boris = await user_row(harness, BORIS["id"])
        [refused] = await harness.send(ANN, "/admin")
        assert refused["text"] == "You do not have access to ADMIN."
        [refused_ru] = await harness.send(BORIS, "/user 1")
        assert "нет доступа" in refused_ru["text"]

        # A forged button from a non-admin changes nothing.
        [own] = await harness.send(ANN, "/help")
        forged = AdminSet(flag="staff", user_id=ann.id, value=True).pack()
        await harness.press(ANN, own["message_id"], forged)
        assert await last_answer(harness) == "You do not have access to ADMIN."
        assert (await user_row(harness, ANN["id"])).is_staff is False

        # Ann made staff (not full permissions) by the owner: she may grant beta, not staff, and not touch herself.
        [card] = await harness.send(ADMIN, f"/user {ann.id}")
        await harness.press(ADMIN, card["message_id"], buttons(card)["Grant ADMIN"])
        assert (await user_row(harness, ANN["id"])).is_staff is True
        [boris_card] = await harness.send(ANN, "/user @boris_tg")
        await harness.press(ANN, boris_card["message_id"], buttons(boris_card)["Grant ADMIN"])
        assert await last_answer(harness) == "You do not have access to FULL_PERMISSIONS_API."
        [own_card] = await harness.send(ANN, f"/user {ann.id}")
        await harness.press(ANN, own_card["message_id"], buttons(own_card)["Grant BETA"])
        assert await last_answer(harness) == "Admins cannot change their own access."

        # Demoted: her old card's buttons are refused at once.
        edited = await message_by_id(harness, ADMIN["id"], card["message_id"])
        await harness.press(ADMIN, card["message_id"], buttons(edited)["Revoke ADMIN"])
        await harness.press(ANN, boris_card["message_id"], buttons(boris_card)["Grant BETA"])
        assert await last_answer(harness) == "You do not have access to ADMIN."
        assert (await user_row(harness, BORIS["id"])).has_beta_access is False

        # A button naming a user who no longer exists.
        gone = AdminSet(flag="beta", user_id=boris.id + 1000, value=True).pack()
        await harness.press(ADMIN, card["message_id"], gone)
        assert await last_answer(harness) == "User not found."
        calls = await harness.users.calls()
        assert not [call for call in calls if call.get("error")]


async def test_search_results_page_through_matches(
    tmp_path: Path, kv: KeyValueStore, clock: ManualClock, database_url: str
) -> None:
    async with harness_for(tmp_path, kv, clock, database_url) as harness:
        people: list[FakeUser] = [
            {"id": 7_300_000_000 + n, "first_name": f"Zoe{n:02d}", "language_code": "en"} for n in range(10)
        ]
        for person in people:
            await harness.send(person, "/start")
        [first] = await harness.send(ADMIN, "/user zoe")
        assert "page 1" in first["text"]
        names = [text for text in buttons(first) if "Zoe" in text]
        assert len(names) == 8
        await harness.press(ADMIN, first["message_id"], buttons(first)["»"])
        second = await message_by_id(harness, ADMIN["id"], first["message_id"])
        assert "page 2" in second["text"]
        assert len([text for text in buttons(second) if "Zoe" in text]) == 2
        opened = next(data for text, data in buttons(second).items() if "Zoe09" in text)
        await harness.press(ADMIN, first["message_id"], opened)
        card = await message_by_id(harness, ADMIN["id"], first["message_id"])
        assert "Zoe09" in card["text"]
        [nothing] = await harness.send(ADMIN, "/user nobody-like-this")
        assert "No user matches" in nothing["text"]


async def test_flood_gets_one_notice_and_repeated_flooding_flags_a_suspected_bot(
    tmp_path: Path, kv: KeyValueStore, clock: ManualClock, database_url: str
) -> None:
    async with harness_for(tmp_path, kv, clock, database_url, bot_message_limit=3, bot_suspect_after=3) as harness:
        answers = [await harness.send(BORIS, "/help") for _ in range(8)]
        assert all(len(answer) == 1 for answer in answers[:3])
        [notice] = answers[3]
        assert "слишком часто" in notice["text"]
        assert answers[4:] == [[], [], [], []]
        boris = await user_row(harness, BORIS["id"])
        assert boris.is_bot_suspected is True
        entries = [e for e in await audit(harness) if e.target_id == boris.id]
        assert [(e.face, e.action) for e in entries] == [("system", "bot_suspect.rate_limit")]
        # Other people are not affected by Boris's flood.
        [served] = await harness.send(ANN, "/help")
        assert "/help" in served["text"]


async def test_flood_notice_comes_again_in_a_later_window(
    tmp_path: Path, kv: KeyValueStore, clock: ManualClock, database_url: str
) -> None:
    notice = "You are sending messages too fast. Please wait a minute."
    # The real limiter on a one-second window (limits reads time.time(), so the test sleeps).
    async with harness_for(
        tmp_path, kv, clock, database_url, ratelimit={"window_seconds": 1}, bot_message_limit=3, bot_suspect_after=0
    ) as harness:
        # In-process windows start on whole seconds, Redis ones at the first hit and every second after it. Starting
        # just after a whole second keeps each flood inside one window on both stores, so the counts are exact.
        await asyncio.sleep(1 - time.time() % 1 + 0.02)
        first = [await harness.send(ANN, "/help")]
        # Both stores' windows started before this; two windows on, the sliding window's previous one is empty too.
        counted = time.monotonic()
        first += [await harness.send(ANN, "/help") for _ in range(4)]
        assert all(len(answer) == 1 and "/help" in answer[0]["text"] for answer in first[:3])
        assert [m["text"] for m in first[3]] == [notice]
        assert first[4] == []
        await asyncio.sleep(2.01 - (time.monotonic() - counted))
        second = [await harness.send(ANN, "/help") for _ in range(5)]
        assert all(len(answer) == 1 and "/help" in answer[0]["text"] for answer in second[:3])
        assert [m["text"] for m in second[3]] == [notice]
        assert second[4] == []


async def test_telegram_bots_are_flagged_and_never_served(
    tmp_path: Path, kv: KeyValueStore, clock: ManualClock, database_url: str
) -> None:
    async with harness_for(tmp_path, kv, clock, database_url) as harness:
        sender = TgUser(id=7_400_000_001, is_bot=True, first_name="Spam")
        message = Message(
            message_id=1,
            date=datetime.now(UTC),
            chat=Chat(id=sender.id, type="private"),
            from_user=sender,
            text="/help",
        )
        for update_id in (900_001, 900_002):
            await harness.dispatcher.feed_update(harness.bot, Update(update_id=update_id, message=message))
        flagged = await user_row(harness, sender.id)
        assert flagged.is_bot_suspected is True
        entries = [e for e in await audit(harness) if e.target_id == flagged.id]
        assert [(e.action, e.request_id) for e in entries] == [("bot_suspect.telegram_is_bot", "900001")]
        assert await harness.users.messages(sender.id) == []


async def test_a_handler_feature_without_a_level_stops_the_start(tmp_path: Path, database_url: str) -> None:
    settings = build_settings(tmp_path, access={"beta_features": ["wallet"]})
    container = await make_container(tmp_path, MemoryStore(), ManualClock(), settings, url=database_url)
    try:
        i18n = create_i18n(LOCALES, default_locale="en", domain="messages")
        with pytest.raises(ValueError, match="whoami"):
            create_dispatcher(container=container, i18n=i18n, fsm_storage=MemoryStorage(), bot_id=1, processing_ttl=1)
    finally:
        await container.close()
        await container.db.dispose()
