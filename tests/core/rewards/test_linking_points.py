"""Linking retires a bare Telegram user: its points move to the surviving account by a ledger transfer."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.auth import password_flows
from core.auth.service import ClientInfo
from core.container import Container
from core.identity.service import IdentityService
from core.rewards.cooldowns import CooldownActive
from core.rewards.service import RewardsService
from core.users.dto import TelegramProfile
from core.users.service import UserService
from storage.models import LedgerAccount, LedgerTransaction, User
from tests.core.rewards.test_rewards_service import assert_ledger_consistent, balance, claim

CLIENT = ClientInfo(ip="127.0.0.1", user_agent="test")
PASSWORD = "Blue-Heron-Lantern-42"


async def link_telegram_into(container: Container, target: int, telegram_id: int) -> None:
    async with container.unit_of_work(write=True) as uow:
        code = (await IdentityService(uow).issue_code_for_account(target)).code
    async with container.unit_of_work(write=True) as uow:
        await IdentityService(uow).link_from_start(code=code, profile=TelegramProfile(telegram_id, "T"))


async def test_linking_a_bare_user_who_claimed_moves_the_points(container: Container) -> None:
    async with container.unit_of_work(write=True) as uow:
        bare, _ = await UserService(uow).ensure_telegram_user(TelegramProfile(9_001, "T"))
    web, _ = await password_flows.register_email(
        container,
        email="w@example.org",
        password=PASSWORD,
        first_name=None,
        last_name=None,
        username=None,
        client=CLIENT,
    )
    await claim(container, bare.id)
    # The web account has points of its own already: both amounts end on it.
    container.clock.advance(86400)  # type: ignore[attr-defined]
    await claim(container, web.id)

    await link_telegram_into(container, web.id, 9_001)

    async with container.unit_of_work(write=False) as uow:
        assert await uow.session.get(User, bare.id) is None
        survivor = await uow.session.get(User, web.id)
        assert survivor is not None
        assert survivor.telegram_id == 9_001
        accounts = (
            await uow.session.execute(select(LedgerAccount).where(LedgerAccount.kind.like("closed:%")))
        ).scalars()
        [closed] = list(accounts)
        assert (closed.user_id, closed.balance) == (None, 0)
        kinds = (await uow.session.execute(select(LedgerTransaction.kind))).scalars().all()
        assert sorted(kinds) == ["account_merge", "daily_claim", "daily_claim"]
        history = await RewardsService(uow).balance(web.id)
        assert [entry.kind for entry in history.entries] == ["account_merge", "daily_claim"]
    assert await balance(container, web.id) == 200
    await assert_ledger_consistent(container)


async def test_linking_carries_the_claim_cooldown_over(container: Container) -> None:
    async with container.unit_of_work(write=True) as uow:
        bare, _ = await UserService(uow).ensure_telegram_user(TelegramProfile(9_002, "T"))
    web, _ = await password_flows.register_email(
        container,
        email="c@example.org",
        password=PASSWORD,
        first_name=None,
        last_name=None,
        username=None,
        client=CLIENT,
    )
    await claim(container, bare.id)
    await link_telegram_into(container, web.id, 9_002)
    # The person claimed today as the bare user; the linked account may not claim again the same day.
    with pytest.raises(CooldownActive):
        await claim(container, web.id)
    assert await balance(container, web.id) == 100


async def test_linking_a_bare_user_without_points_still_works(container: Container) -> None:
    async with container.unit_of_work(write=True) as uow:
        await UserService(uow).ensure_telegram_user(TelegramProfile(9_003, "T"))
    web, _ = await password_flows.register_email(
        container,
        email="n@example.org",
        password=PASSWORD,
        first_name=None,
        last_name=None,
        username=None,
        client=CLIENT,
    )
    await link_telegram_into(container, web.id, 9_003)
    assert await balance(container, web.id) == 0
