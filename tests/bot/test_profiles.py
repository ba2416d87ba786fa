"""/profiles through the real dispatcher, aiogram's real HTTP session and the stand-in, which also acts as
Telegram's user side for the linked accounts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from core.clock import ManualClock
from core.profiles import flows
from core.profiles.port import PasswordNeeded
from core.profiles.service import ProfilesConfig
from fake_telegram import FakeUser
from mtproto.stand_in_client import StandInProfiles
from storage.kv import MemoryStore
from storage.repositories.users import UserRepository
from tests.helpers.app import make_container
from tests.helpers.app import test_settings as app_settings
from tests.helpers.bot import BotHarness, bot_harness

ANN: FakeUser = {"id": 7_300_000_001, "first_name": "Ann", "language_code": "en"}
TG_WORK: FakeUser = {"id": 7_300_000_101, "first_name": "Work", "last_name": "Phone", "username": "ann_work"}
TG_GUS: FakeUser = {"id": 7_300_000_102, "first_name": "Gus", "username": "gus_tg"}
WORK_PHONE = "15550301"
CLOUD_PASSWORD = "Granite-Owl-51"


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    markup = message.get("reply_markup") or {}
    return [button for row in markup.get("inline_keyboard", []) for button in row]


async def link_work_phone(harness: BotHarness) -> None:
    container = harness.container
    async with container.unit_of_work(write=False) as uow:
        user = await UserRepository(uow.session).by_telegram_id(ANN["id"])
    assert user is not None
    await flows.start_login(container, user.id, WORK_PHONE)
    text = (await harness.users.account_messages(TG_WORK["id"], 777000))[-1]["text"]
    found = re.search(r"\d{5}", text)
    assert found is not None
    try:
        await flows.submit_code(container, user.id, WORK_PHONE, found.group())
    except PasswordNeeded:
        await flows.submit_password(container, user.id, WORK_PHONE, CLOUD_PASSWORD)


async def test_profiles_list_add_link_and_dialogs(tmp_path: Path, database_url: str) -> None:
    # No caching, so that a revocation shows at once.
    settings = app_settings(tmp_path, profiles={"dialogs_cache_seconds": 0})
    container = await make_container(tmp_path, MemoryStore(), ManualClock(), settings, url=database_url)
    async with bot_harness(tmp_path, container=container) as harness:
        port = harness.container.config(ProfilesConfig).port
        assert isinstance(port, StandInProfiles)
        port.bind(harness.users.base_url)
        await harness.users.add_account(TG_WORK, WORK_PHONE, password=CLOUD_PASSWORD)
        await harness.users.add_account(TG_GUS, "15550302")

        [empty] = await harness.send(ANN, "/profiles")
        assert empty["text"] == "You have no Telegram profiles yet."
        [add] = buttons(empty)
        assert add["text"] == "Add a Telegram profile"

        [page] = await harness.press(ANN, int(empty["message_id"]), add["callback_data"])
        assert "invalidates a login code that is sent in any chat" in page["text"]
        [open_page] = buttons(page)
        assert re.fullmatch(r"http://127\.0\.0\.1:9/profiles/add#code=[\w-]+", open_page["url"])
        assert "The link works once" in page["text"]

        await link_work_phone(harness)
        await harness.users.account_send(TG_GUS["id"], TG_WORK["id"], "lunch?")
        [listed] = await harness.send(ANN, "/profiles")
        # Gus's message and the login code from 777000.
        assert listed["text"] == "Your Telegram profiles:\nWork Phone (+15****01): 2 unread"
        dialogs_button, _ = buttons(listed)
        assert dialogs_button["text"] == "Dialogs: Work Phone (+15****01)"

        [dialogs] = await harness.press(ANN, int(listed["message_id"]), dialogs_button["callback_data"])
        assert dialogs["text"] == "Dialogs, unread first:\nGus: 1 unread\nTelegram: 1 unread"

        # Signed out from another device: the list says so.
        await harness.users.revoke_sessions(TG_WORK["id"])
        [dead] = await harness.press(ANN, int(listed["message_id"]), dialogs_button["callback_data"])
        assert dead["text"] == "This profile is signed out. Add it again with /profiles."
        [after] = await harness.send(ANN, "/profiles")
        assert after["text"] == "Your Telegram profiles:\nWork Phone (+15****01): signed out; add it again"
    await container.close()
    await container.db.dispose()
