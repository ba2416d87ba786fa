"""Family finance through the real dispatcher and the local Telegram stand-in: quick entry, /month with its chart,
joining by invite link, /export, and who may do what."""

from __future__ import annotations

import base64
import csv
import io
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiogram.fsm.storage.memory import MemoryStorage
from sqlalchemy import func, select

from bot.factory import create_dispatcher, create_i18n
from bot.keyboards.finance import SWITCH, FamilyAction
from core.finance.families import FamilyService
from core.finance.ledger import LedgerService
from core.identity.service import IdentityService
from fake_telegram import FakeUser
from storage.models import Transaction, User
from tests.core.identity.test_linking_rules import email_user
from tests.helpers.bot import BotHarness, bot_harness
from tests.helpers.catalogs import LOCALES

ANN: FakeUser = {"id": 7_200_000_001, "first_name": "Ann", "username": "ann_fin", "language_code": "en"}
BOB: FakeUser = {"id": 7_200_000_002, "first_name": "Bob", "language_code": "en"}
VERA: FakeUser = {"id": 7_200_000_003, "first_name": "Вера", "language_code": "ru"}


def buttons(message: dict[str, Any]) -> dict[str, str]:
    """Button text -> callback data."""
    return {b["text"]: b.get("callback_data", "") for row in message["reply_markup"]["inline_keyboard"] for b in row}


async def message_by_id(harness: BotHarness, user: FakeUser, message_id: int) -> dict[str, Any]:
    return next(m for m in await harness.users.messages(user["id"]) if m["message_id"] == message_id)


async def enter(harness: BotHarness, user: FakeUser, text: str) -> dict[str, Any]:
    """Type an entry and tap save; the edited draft message."""
    [draft] = await harness.send(user, text)
    save = next(data for label, data in buttons(draft).items() if label.startswith("✅"))
    await harness.press(user, draft["message_id"], save)
    return await message_by_id(harness, user, draft["message_id"])


async def entries(harness: BotHarness) -> int:
    async with harness.container.unit_of_work(write=False) as uow:
        return int((await uow.session.execute(select(func.count()).select_from(Transaction))).scalar_one())


async def test_type_save_month_join_and_export(tmp_path: Any, database_url: str) -> None:
    async with bot_harness(tmp_path, url=database_url) as harness:
        [draft] = await harness.send(ANN, "250 coffee")
        assert "Expense: $250.00" in draft["text"]
        assert "Cafe" in draft["text"]
        saved = await enter(harness, ANN, "250 coffee")
        assert saved["text"].startswith("Saved: -$250.00 coffee")
        assert "reply_markup" not in saved or not saved["reply_markup"]
        # The first draft was never saved: one entry.
        assert await entries(harness) == 1

        text, photo, trend = await harness.send(ANN, "/month")
        assert "Expense: $250.00" in text["text"]
        assert "☕ Cafe: $250.00" in text["text"]
        assert text["text"].startswith("2030-01-01 to 2030-01-31")
        assert photo["media"]["type"] == "photo"
        assert base64.b64decode(photo["media"]["data"]).startswith(b"\x89PNG")
        assert base64.b64decode(trend["media"]["data"]).startswith(b"\x89PNG")

        # Ann invites Bob with the /family button; Bob opens the link.
        [overview] = await harness.send(ANN, "/family")
        assert "Ann — owner" in overview["text"]
        [invite] = await harness.press(ANN, overview["message_id"], buttons(overview)["Invite link"])
        link = invite["text"].rsplit(" ", 1)[-1]
        assert "?start=join_" in link
        [joined] = await harness.send(BOB, "/start " + link.split("?start=", 1)[1])
        assert "You joined the family" in joined["text"]
        await enter(harness, BOB, "+1000 salary")
        await enter(harness, BOB, "40 taxi")
        # The invite worked once.
        [dead] = await harness.send(VERA, "/start " + link.split("?start=", 1)[1])
        assert "недействительно" in dead["text"]

        text, *_charts = await harness.send(ANN, "/month")
        assert "Income: $1,000.00" in text["text"]
        assert "Expense: $290.00" in text["text"]
        assert "• Bob: $40.00" in text["text"]
        assert "• Ann: $250.00" in text["text"]

        [document] = await harness.send(ANN, "/export")
        assert document["media"]["type"] == "document"
        rows = list(csv.reader(io.StringIO(base64.b64decode(document["media"]["data"]).decode())))
        assert rows[0][:6] == ["date", "account", "category", "kind", "amount", "currency"]
        assert sorted((r[2], r[3], r[4], r[8], r[9]) for r in rows[1:]) == [
            ("Cafe", "expense", "-250.00", "coffee", "Ann"),
            ("Salary", "income", "1000.00", "salary", "Bob"),
            ("Transport", "expense", "-40.00", "taxi", "Bob"),
        ]


async def test_drafts_buttons_and_undo(tmp_path: Any, database_url: str) -> None:
    async with bot_harness(tmp_path, url=database_url) as harness:
        [draft] = await harness.send(ANN, "12.50 lunch")
        await harness.press(ANN, draft["message_id"], buttons(draft)["Category"])
        menu = await message_by_id(harness, ANN, draft["message_id"])
        await harness.press(ANN, draft["message_id"], buttons(menu)["🏠 Home"])
        changed = await message_by_id(harness, ANN, draft["message_id"])
        assert "Category: 🏠 Home" in changed["text"]
        # Someone else pressing Ann's buttons (a forwarded message) finds no draft, and nothing is saved.
        save = next(data for label, data in buttons(changed).items() if label.startswith("✅"))
        [bobs] = await harness.send(BOB, "/help")
        await harness.press(BOB, bobs["message_id"], save)
        assert await entries(harness) == 0
        # Two taps (or a redelivered update) save once.
        await harness.press(ANN, draft["message_id"], save)
        await harness.press(ANN, draft["message_id"], save)
        assert await entries(harness) == 1
        [undone] = await harness.send(ANN, "/undo")
        assert undone["text"].startswith("Deleted: -$12.50 lunch")
        assert await entries(harness) == 0
        [nothing] = await harness.send(ANN, "/undo")
        assert "nothing recent" in nothing["text"]

        [cancelled] = await harness.send(ANN, "5 tea")
        await harness.press(ANN, cancelled["message_id"], buttons(cancelled)["Cancel"])
        assert (await message_by_id(harness, ANN, cancelled["message_id"]))["text"] == "Cancelled."
        await harness.press(ANN, cancelled["message_id"], buttons(cancelled)["✅ Save"])
        assert await entries(harness) == 0


async def test_hints_reads_and_roles(tmp_path: Any, database_url: str) -> None:
    async with bot_harness(tmp_path, url=database_url) as harness:
        [hint] = await harness.send(VERA, "привет")
        assert "250 кофе" in hint["text"]
        [accounts] = await harness.send(VERA, "/accounts")
        assert "Наличные" in accounts["text"]
        [draft] = await harness.send(VERA, "кофе 250,50 вчера")
        assert "Расход: 250,50" in draft["text"]
        assert "Кафе" in draft["text"]
        assert "Сохранить" in "".join(buttons(draft))
        # Bob's first use is a report: it makes his personal family (in his language), empty so far.
        [first_use] = await harness.send(BOB, "/month")
        assert "Expense: $0.00" in first_use["text"]
        # Vera invites Bob as a viewer: he reads her family but cannot write to it.
        await harness.send(BOB, "/start")
        async with harness.container.unit_of_work(write=True) as uow:
            vera_id = (await FamilyService(uow).list_mine(await user_id(harness, VERA)))[0].id
            issued = await FamilyService(uow).invite(
                await user_id(harness, VERA), vera_id, role="viewer", ttl=timedelta(hours=1)
            )
        await harness.send(BOB, f"/start join_{issued.code}")
        [refused] = await harness.send(BOB, "50 tea")
        assert "does not allow" in refused["text"]
        [undo] = await harness.send(BOB, "/undo")
        assert "does not allow" in undo["text"]
        [today] = await harness.send(BOB, "/today")
        assert "No entries yet" in today["text"]
        [categories] = await harness.send(BOB, "/categories")
        assert "Продукты" in categories["text"]
        assert await entries(harness) == 0


async def user_id(harness: BotHarness, user: FakeUser) -> int:
    async with harness.container.unit_of_work(write=False) as uow:
        found = (await uow.session.execute(select(User).where(User.telegram_id == user["id"]))).scalar_one()
        return found.id


async def test_a_draft_survives_a_restart_and_forged_buttons_reach_nothing(tmp_path: Any, database_url: str) -> None:
    async with bot_harness(tmp_path, url=database_url) as harness:
        [draft] = await harness.send(ANN, "99 books")
        # A new dispatcher (a restarted process) on the same database and key-value store.
        harness.dispatcher = create_dispatcher(
            container=harness.container,
            i18n=create_i18n(LOCALES, default_locale="en", domain="messages"),
            fsm_storage=MemoryStorage(),
            bot_id=harness.bot.id,
            processing_ttl=60,
        ).dispatcher
        await harness.press(ANN, draft["message_id"], buttons(draft)["✅ Save"])
        assert (await message_by_id(harness, ANN, draft["message_id"]))["text"].startswith("Saved: -$99.00 books")
        assert await entries(harness) == 1

        # Bob, in a family of his own, forges a "switch" button naming Ann's family: refused, nothing changes.
        await enter(harness, BOB, "1 gum")
        async with harness.container.unit_of_work(write=False) as uow:
            ann_family = (await FamilyService(uow).list_mine(await user_id(harness, ANN)))[0].id
            bob_before = await FamilyService(uow).active(await user_id(harness, BOB))
        [bobs] = await harness.send(BOB, "/help")
        await harness.press(BOB, bobs["message_id"], FamilyAction(action=SWITCH, family=ann_family).pack())
        async with harness.container.unit_of_work(write=False) as uow:
            assert await FamilyService(uow).active(await user_id(harness, BOB)) == bob_before
            assert len(await FamilyService(uow).list_mine(await user_id(harness, BOB))) == 1
        month, *_charts = await harness.send(BOB, "/month")
        assert "$1.00" in month["text"]
        assert "$99.00" not in month["text"]


async def test_linking_refused_when_both_accounts_share_a_family(tmp_path: Any, database_url: str) -> None:
    async with bot_harness(tmp_path, url=database_url) as harness:
        container = harness.container
        target = await email_user(container, "ann@example.org")
        await harness.send(ANN, "/start")
        bare = await user_id(harness, ANN)
        async with container.unit_of_work(write=True) as uow:
            family = await FamilyService(uow).create(target, name="Shared")
            issued = await FamilyService(uow).invite(target, family.id)
        async with container.unit_of_work(write=True) as uow:
            await FamilyService(uow).accept(bare, issued.code)
        async with container.unit_of_work(write=True) as uow:
            code = (await IdentityService(uow).issue_code_for_account(target)).code
        [refused] = await harness.send(ANN, f"/start link_{code}")
        assert "same family" in refused["text"]
        # Nothing was dropped: the bare account and its membership are still there.
        async with container.unit_of_work(write=False) as uow:
            assert len(await FamilyService(uow).members(target, family.id)) == 2


async def test_family_switch_changes_where_entries_go(tmp_path: Any, database_url: str) -> None:
    async with bot_harness(tmp_path, url=database_url) as harness:
        await enter(harness, ANN, "5 tea")
        async with harness.container.unit_of_work(write=True) as uow:
            await FamilyService(uow).create(await user_id(harness, ANN), name="Work")
        [overview] = await harness.send(ANN, "/family")
        assert "Family: Work" in overview["text"]
        [switched] = await harness.press(ANN, overview["message_id"], buttons(overview)["Switch to My household"])
        assert switched["text"] == "Active family: My household"
        [today] = await harness.send(ANN, "/today")
        assert "-$5.00 tea" in today["text"]


async def household_in_roubles(harness: BotHarness, user: FakeUser) -> int:
    """A family with the base currency RUB, a cash account in roubles and a "Dollars" account in USD."""
    await harness.send(user, "/start")
    owner = await user_id(harness, user)
    async with harness.container.unit_of_work(write=True) as uow:
        family = await FamilyService(uow).create(
            owner, name="Home", language=user.get("language_code"), base_currency="RUB"
        )
        await LedgerService(uow).create_account(owner, family.id, name="Dollars", currency="USD")
    return family.id


async def test_rates_set_in_the_chat_are_listed_and_used_by_quick_entry(tmp_path: Any, database_url: str) -> None:
    async with bot_harness(tmp_path, url=database_url) as harness:
        await household_in_roubles(harness, ANN)
        [empty] = await harness.send(ANN, "/rate")
        assert empty["text"].startswith("Exchange rates to RUB:\nNone yet.")
        assert "/rate USD 92.5" in empty["text"]
        # Before there is a rate, saving a dollar entry says how to add one.
        [draft] = await harness.send(ANN, "$10 coffee")
        assert "Account: Dollars" in draft["text"]
        await harness.press(ANN, draft["message_id"], buttons(draft)["✅ Save"])
        alert = (await harness.users.callback_answers())[-1]
        assert alert["show_alert"]
        assert alert["text"] == "USD has no exchange rate to RUB for this date yet. Add one with /rate USD 92.5"
        assert await entries(harness) == 0

        [saved] = await harness.send(ANN, "/rate USD 92.5")
        assert saved["text"].startswith("Saved: 1 USD = 92.50 RUB from 2030-01-01.")
        # The same draft saves now, with the base amount from that rate.
        assert (await enter(harness, ANN, "$10 coffee"))["text"].startswith("Saved: -$10.00 coffee")
        async with harness.container.unit_of_work(write=False) as uow:
            row = (await uow.session.execute(select(Transaction))).scalar_one()
        assert (row.currency, row.amount_minor, row.rate_to_base, row.base_amount_minor) == (
            "USD",
            -1000,
            Decimal("92.5"),
            -92500,
        )

        [dated] = await harness.send(ANN, "/rate eur 100,25 2029-12-01")
        assert dated["text"].startswith("Saved: 1 EUR = 100.25 RUB from 2029-12-01.")
        [listed] = await harness.send(ANN, "/rate")
        assert listed["text"].splitlines()[:3] == [
            "Exchange rates to RUB:",
            "• 1 EUR = 100.25 RUB, from 2029-12-01",
            "• 1 USD = 92.50 RUB, from 2030-01-01",
        ]


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("/rate USD", "To set a rate, send the currency, the rate and, if you like, the date"),
        ("/rate dollars 92.5", "To set a rate, send the currency"),
        ("/rate XYZ 92.5", "I do not know the currency “XYZ”."),
        ("/rate USD abc", "A rate is a positive number"),
        ("/rate USD 0", "A rate is a positive number"),
        ("/rate USD -5", "A rate is a positive number"),
        ("/rate USD 92.5 2030-02-30", "I could not read that date."),
        ("/rate RUB 1", "That is the family's base currency: it needs no rate."),
    ],
)
async def test_rate_refusals_say_what_to_type(tmp_path: Any, text: str, answer: str) -> None:
    async with bot_harness(tmp_path) as harness:
        await household_in_roubles(harness, ANN)
        await harness.send(ANN, "/rate USD 92.5")
        [refused] = await harness.send(ANN, text)
        assert refused["text"].startswith(answer)


async def test_rates_in_russian_and_a_viewer_is_refused(tmp_path: Any, database_url: str) -> None:
    async with bot_harness(tmp_path, url=database_url) as harness:
        family = await household_in_roubles(harness, VERA)
        [saved] = await harness.send(VERA, "/rate USD 1234,5 30.11.2029")
        assert saved["text"].startswith("Сохранено: 1 USD = 1\u00a0234,50 RUB с 2029-11-30.")
        [refused] = await harness.send(VERA, "/rate USD 92.5 31.11.2029")
        assert refused["text"].startswith("Не получилось прочитать дату.")
        # Bob, a viewer in Vera's family, reads the rates in English and may not set one.
        await harness.send(BOB, "/start")
        async with harness.container.unit_of_work(write=True) as uow:
            issued = await FamilyService(uow).invite(await user_id(harness, VERA), family, role="viewer")
        await harness.send(BOB, f"/start join_{issued.code}")
        [listed] = await harness.send(BOB, "/rate")
        assert "• 1 USD = 1,234.50 RUB, from 2029-11-30" in listed["text"]
        [forbidden] = await harness.send(BOB, "/rate USD 1")
        assert forbidden["text"] == "Only the family's owners and admins may set exchange rates."
        [listed_ru] = await harness.send(VERA, "/rate")
        assert listed_ru["text"].startswith("Курсы валют к RUB:\n• 1 USD = 1\u00a0234,50 RUB, с 2029-11-30")
        async with harness.container.unit_of_work(write=False) as uow:
            assert len((await LedgerService(uow).latest_rates(await user_id(harness, VERA), family)).items) == 1
