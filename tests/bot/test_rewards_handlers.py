"""/claim, /balance and /wallet through the real dispatcher, aiogram's real session and the local stand-in."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from core.auth.service import AuthService, ClientInfo
from core.clock import ManualClock
from core.rewards.service import RewardsService
from core.wallet.service import WalletService
from fake_telegram import FakeUser
from storage.models import User
from tests.helpers.app import create_test_app
from tests.helpers.app import test_settings as settings_with
from tests.helpers.bot import BotHarness, bot_harness

ANN: FakeUser = {"id": 7_200_000_001, "first_name": "Ann", "language_code": "en"}
BORIS: FakeUser = {"id": 7_200_000_002, "first_name": "Борис", "language_code": "ru"}
ADDRESS = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


async def user_id(harness: BotHarness, person: FakeUser) -> int:
    async with harness.container.unit_of_work(write=False) as uow:
        return int((await uow.session.execute(select(User.id).where(User.telegram_id == person["id"]))).scalar_one())


async def test_claim_twice_and_the_balance(tmp_path: Path, database_url: str) -> None:
    async with bot_harness(tmp_path, url=database_url) as harness:
        [paid] = await harness.send(ANN, "/claim")
        assert "You received 100 points." in paid["text"]
        assert "Your balance: 100 points." in paid["text"]
        [again] = await harness.send(ANN, "/claim")
        assert again["text"] == "You have already claimed today. Next claim in 24 h 0 min."
        [shown] = await harness.send(ANN, "/balance")
        assert "Your balance: 100 points." in shown["text"]
        assert "+100 · daily reward" in shown["text"]
        assert "reply_markup" not in shown or not shown["reply_markup"]


async def test_the_refusal_speaks_russian_and_says_how_long(tmp_path: Path, database_url: str) -> None:
    async with bot_harness(tmp_path, url=database_url) as harness:
        [paid] = await harness.send(BORIS, "/claim")
        assert "Начислено очков: 100." in paid["text"]
        clock = harness.container.clock
        assert isinstance(clock, ManualClock)
        clock.advance(22 * 3600 + 30 * 60 + 1)
        [again] = await harness.send(BORIS, "/claim")
        assert again["text"] == "Сегодня вы уже получили награду. Следующая — через 1 ч 30 мин."


async def test_the_cooldown_survives_a_restart(tmp_path: Path, database_url: str) -> None:
    async with bot_harness(tmp_path, url=database_url) as harness:
        await harness.send(ANN, "/claim")
    # A new process: new container, new dispatcher, the same database.
    async with bot_harness(tmp_path, url=database_url) as harness:
        [again] = await harness.send(ANN, "/claim")
        assert "already claimed today" in again["text"]
        [shown] = await harness.send(ANN, "/balance")
        assert "Your balance: 100 points." in shown["text"]


async def test_balance_pages_with_a_button(tmp_path: Path, database_url: str) -> None:
    async with bot_harness(tmp_path, url=database_url) as harness:
        await harness.send(ANN, "/start")
        ann = await user_id(harness, ANN)
        clock = harness.container.clock
        assert isinstance(clock, ManualClock)
        for _ in range(12):
            async with harness.container.unit_of_work(write=True) as uow:
                await RewardsService(uow).claim(ann)
            clock.advance(86400)
        [shown] = await harness.send(ANN, "/balance")
        assert "Your balance: 1200 points." in shown["text"]
        assert shown["text"].count("+100 ·") == 10
        [[button]] = shown["reply_markup"]["inline_keyboard"]
        assert button["text"] == "Older entries"
        await harness.press(ANN, shown["message_id"], button["callback_data"])
        [edited] = [m for m in await harness.users.messages(ANN["id"]) if m["message_id"] == shown["message_id"]]
        assert edited["text"].startswith("Older entries:")
        assert edited["text"].count("+100 ·") == 2


async def test_wallet_shows_addresses_and_their_state(tmp_path: Path, database_url: str) -> None:
    async with bot_harness(tmp_path, url=database_url) as harness:
        [empty] = await harness.send(BORIS, "/wallet")
        assert "Ethereum: не указан" in empty["text"]
        boris = await user_id(harness, BORIS)
        async with harness.container.unit_of_work(write=True) as uow:
            await WalletService(uow).set_addresses(boris, ethereum_address=ADDRESS.lower(), base_address=None)
        [shown] = await harness.send(BORIS, "/wallet")
        assert f"Ethereum: {ADDRESS} (не подтверждён)" in shown["text"]
        assert "Base: не указан" in shown["text"]


async def test_one_claim_a_day_across_both_faces(tmp_path: Path, database_url: str) -> None:
    """The bot and the REST API share the rule: a claim over REST makes the bot's /claim wait, and the other way."""
    async with bot_harness(tmp_path, url=database_url) as harness:
        await harness.send(ANN, "/start")
        ann = await user_id(harness, ANN)
        async with harness.container.unit_of_work(write=True) as uow:
            tokens = await AuthService(uow).open_session(
                ann, method="test", client=ClientInfo(ip="127.0.0.1", user_agent="test")
            )
        app = create_test_app(harness.container, settings_with(tmp_path), version="t")
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            auth = {"Authorization": f"Bearer {tokens.access_token}"}
            paid = await client.post("/api/v1/claim", headers=auth)
            assert paid.status == 200
            [refused] = await harness.send(ANN, "/claim")
            assert refused["text"] == "You have already claimed today. Next claim in 24 h 0 min."
            clock = harness.container.clock
            assert isinstance(clock, ManualClock)
            clock.advance(86400)
            [bot_paid] = await harness.send(ANN, "/claim")
            assert "Your balance: 200 points." in bot_paid["text"]
            # A fresh token (the first one has expired meanwhile) meets the bot's claim on REST.
            async with harness.container.unit_of_work(write=True) as uow:
                tokens = await AuthService(uow).open_session(
                    ann, method="test", client=ClientInfo(ip="127.0.0.1", user_agent="test")
                )
            again = await client.post("/api/v1/claim", headers={"Authorization": f"Bearer {tokens.access_token}"})
            assert again.status == 429
            assert again.headers["Retry-After"] == "86400"
            listed = await (
                await client.get("/api/v1/auth/cooldowns", headers={"Authorization": f"Bearer {tokens.access_token}"})
            ).json()
            assert [item["command"] for item in listed["data"]] == ["claim"]


async def test_the_claim_day_follows_the_zone_the_person_chose(tmp_path: Path, database_url: str) -> None:
    async with bot_harness(tmp_path, url=database_url) as harness:
        [unset] = await harness.send(ANN, "/timezone")
        assert unset["text"].startswith("You have not chosen a time zone yet.")
        [unknown] = await harness.send(ANN, "/timezone Mars/Olympus")
        assert unknown["text"].startswith("I do not know this time zone.")
        # Typed in any case; saved as the zone database spells it.
        [chosen] = await harness.send(ANN, "/timezone asia/tokyo")
        assert chosen["text"].startswith("Time zone set: Asia/Tokyo.")
        [shown] = await harness.send(ANN, "/timezone")
        assert shown["text"].startswith("Your time zone: Asia/Tokyo.")
        # The harness's clock stands at midnight UTC, 09:00 in Tokyo: the Tokyo day ends in 15 hours.
        await harness.send(ANN, "/claim")
        [again] = await harness.send(ANN, "/claim")
        assert again["text"] == "You have already claimed today. Next claim in 15 h 0 min."
        [settings] = await harness.send(BORIS, "/timezone Europe/Moscow")
        assert settings["text"].startswith("Часовой пояс сохранён: Europe/Moscow.")
