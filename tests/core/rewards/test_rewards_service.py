"""The daily claim, cooldowns and the balance on the real ledger, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.auth.service import AuthService
from core.clock import ManualClock
from core.container import Container
from core.errors import DomainError, Forbidden
from core.rewards import jobs as rewards_jobs
from core.rewards.cooldowns import CooldownActive, CooldownService
from core.rewards.service import ClaimResult, RewardsService, claim_day
from core.users.dto import TelegramProfile
from core.users.service import UserService
from storage.kv import KeyValueStore, MemoryStore
from storage.models import Cooldown, LedgerEntry, LedgerTransaction, User
from storage.repositories.rewards import LedgerRepository
from tests.helpers.app import make_container
from tests.helpers.app import test_settings as settings_with


async def make_user(container: Container, telegram_id: int, referrer: int | None = None) -> int:
    async with container.unit_of_work(write=True) as uow:
        user, _ = await UserService(uow).ensure_telegram_user(TelegramProfile(telegram_id=telegram_id, first_name="U"))
        if referrer is not None:
            row = await uow.session.get(User, user.id)
            assert row is not None
            row.referred_by_id = referrer
        return user.id


async def claim(container: Container, user_id: int) -> ClaimResult:
    async with container.unit_of_work(write=True) as uow:
        return await RewardsService(uow).claim(user_id)


async def balance(container: Container, user_id: int) -> int:
    async with container.unit_of_work(write=False) as uow:
        return (await RewardsService(uow).balance(user_id)).balance


async def assert_ledger_consistent(container: Container) -> None:
    """Every cached balance equals the sum of its entries, and every transaction sums to zero."""
    async with container.unit_of_work(write=False) as uow:
        ledger = LedgerRepository(uow.session)
        assert await ledger.balance_mismatches() == []
        assert await ledger.unbalanced_transactions() == []
        total = (await uow.session.execute(select(func.coalesce(func.sum(LedgerEntry.amount), 0)))).scalar_one()
        assert total == 0


async def test_claim_pays_the_user_and_the_referrer_once(container: Container) -> None:
    referrer = await make_user(container, 1001)
    user = await make_user(container, 1002, referrer=referrer)
    result = await claim(container, user)
    assert (result.amount, result.referral_amount, result.referrer_id, result.balance) == (100, 10, referrer, 100)
    with pytest.raises(CooldownActive) as refused:
        await claim(container, user)
    assert refused.value.status_hint == 429
    assert refused.value.retry_after == int((result.next_claim_at - container.clock.now()).total_seconds())
    assert (await balance(container, user), await balance(container, referrer)) == (100, 10)
    await assert_ledger_consistent(container)


async def test_twenty_simultaneous_claims_pay_once(container: Container) -> None:
    referrer = await make_user(container, 2001)
    user = await make_user(container, 2002, referrer=referrer)

    async def attempt() -> str:
        try:
            await claim(container, user)
        except CooldownActive as exc:
            return exc.code
        return "paid"

    outcomes = await asyncio.gather(*(attempt() for _ in range(20)))
    assert outcomes.count("paid") == 1
    assert set(outcomes) <= {"paid", "cooldown_active", "already_claimed"}
    assert (await balance(container, user), await balance(container, referrer)) == (100, 10)
    async with container.unit_of_work(write=False) as uow:
        claims = (await uow.session.execute(select(func.count()).select_from(LedgerTransaction))).scalar_one()
    assert claims == 1
    await assert_ledger_consistent(container)


@pytest.fixture
async def configured(
    request: pytest.FixtureRequest, tmp_path: Path, kv: KeyValueStore, clock: ManualClock, database_url: str
) -> AsyncIterator[Container]:
    """A container built by run.py's own function from settings with the test's [rewards] section."""
    settings = settings_with(tmp_path, rewards=request.param)
    built = await make_container(tmp_path, kv, clock, settings, url=database_url)
    yield built
    await built.close()
    await built.db.dispose()


@pytest.mark.parametrize("configured", [{"time_zone": "Asia/Tokyo"}], indirect=True)
async def test_a_new_day_in_the_configured_zone_allows_a_new_claim(configured: Container, clock: ManualClock) -> None:
    container = configured
    # 14:30 UTC is 23:30 in Tokyo: the Tokyo day ends in 30 minutes, long before the UTC day does.
    clock.set(datetime(2030, 3, 1, 14, 30, tzinfo=UTC))
    user = await make_user(container, 3001)
    first = await claim(container, user)
    assert first.claimed_on.isoformat() == "2030-03-01"
    assert first.next_claim_at == datetime(2030, 3, 1, 15, 0, tzinfo=UTC)
    clock.advance(29 * 60)
    with pytest.raises(CooldownActive) as refused:
        await claim(container, user)
    assert refused.value.retry_after == 60
    clock.advance(60)
    second = await claim(container, user)
    assert second.claimed_on.isoformat() == "2030-03-02"
    assert second.balance == 200
    await assert_ledger_consistent(container)


async def test_the_day_of_a_user_who_chose_a_zone_is_theirs(container: Container, clock: ManualClock) -> None:
    # 14:30 UTC: the configured zone (UTC) has 9.5 hours of the day left, Tokyo only 30 minutes.
    clock.set(datetime(2030, 3, 1, 14, 30, tzinfo=UTC))
    user = await make_user(container, 3101)
    async with container.unit_of_work(write=True) as uow:
        await UserService(uow).set_time_zone(user, "Asia/Tokyo")
    first = await claim(container, user)
    assert (first.claimed_on.isoformat(), first.next_claim_at) == ("2030-03-01", datetime(2030, 3, 1, 15, tzinfo=UTC))
    clock.advance(30 * 60)
    assert (await claim(container, user)).claimed_on.isoformat() == "2030-03-02"
    # Moving west lands on a date already paid: the date's key refuses it, whatever the cooldown says.
    async with container.unit_of_work(write=True) as uow:
        await UserService(uow).set_time_zone(user, "America/Los_Angeles")
    # 07:30 on 2 March in Los Angeles; the cooldown set in Tokyo (until its midnight, 15:00 UTC) is over.
    clock.set(datetime(2030, 3, 2, 15, 30, tzinfo=UTC))
    with pytest.raises(CooldownActive) as refused:
        await claim(container, user)
    assert refused.value.code == "already_claimed"
    assert await balance(container, user) == 200
    await assert_ledger_consistent(container)


async def test_a_saved_zone_this_host_lacks_falls_back_to_the_configured_one(container: Container) -> None:
    user = await make_user(container, 3201)
    async with container.unit_of_work(write=True) as uow:
        row = await uow.session.get(User, user)
        assert row is not None
        row.time_zone = "Atlantis/Capital"  # saved on a host whose zone database had it
    assert (await claim(container, user)).claimed_on == container.clock.now().date()


def test_claim_day_across_a_dst_change() -> None:
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    # The night of the spring change is 23 hours long; the next claim still opens at local midnight.
    day, opens = claim_day(datetime(2030, 3, 30, 12, 0, tzinfo=UTC), berlin)
    assert day.isoformat() == "2030-03-30"
    assert opens == datetime(2030, 3, 30, 23, 0, tzinfo=UTC)
    day, opens = claim_day(datetime(2030, 3, 31, 12, 0, tzinfo=UTC), berlin)
    assert opens == datetime(2030, 3, 31, 22, 0, tzinfo=UTC)


async def test_a_missing_cooldown_does_not_allow_a_second_payment(container: Container) -> None:
    user = await make_user(container, 4001)
    await claim(container, user)
    async with container.unit_of_work(write=True) as uow:
        assert await CooldownService(uow)._repo.clear(user, "claim")
    # The idempotency key, not the cooldown, is what pays once; the refusal puts the cooldown back.
    with pytest.raises(CooldownActive) as refused:
        await claim(container, user)
    assert refused.value.code == "already_claimed"
    async with container.unit_of_work(write=False) as uow:
        assert [c.command for c in await CooldownService(uow).active(user)] == ["claim"]
    assert await balance(container, user) == 100


async def test_inactive_user_may_not_claim(container: Container) -> None:
    user = await make_user(container, 5001)
    async with container.unit_of_work(write=True) as uow:
        await AuthService(uow).set_active(user, False)
    with pytest.raises(Forbidden) as refused:
        await claim(container, user)
    assert refused.value.code == "account_disabled"
    assert await balance(container, user) == 0


async def test_cooldowns_survive_a_restart_and_expire_with_the_clock(container: Container, tmp_path: Path) -> None:
    user = await make_user(container, 6001)
    clock = container.clock
    assert isinstance(clock, ManualClock)
    async with container.unit_of_work(write=True) as uow:
        await CooldownService(uow).start(user, "quiz", clock.now() + timedelta(seconds=90))
    # A new container on the same database is what a restarted process has; the cooldown is still there.
    restarted = await make_container(tmp_path, MemoryStore(), clock, url=container.db.config.url)
    try:
        async with restarted.unit_of_work(write=False) as uow:
            with pytest.raises(CooldownActive) as refused:
                await CooldownService(uow).require_free(user, "quiz")
            assert refused.value.retry_after == 90
            [listed] = await CooldownService(uow).active(user)
            assert (listed.command, listed.remaining_seconds) == ("quiz", 90)
        clock.advance(90)
        async with restarted.unit_of_work(write=False) as uow:
            await CooldownService(uow).require_free(user, "quiz")
            assert await CooldownService(uow).active(user) == []
    finally:
        await restarted.db.dispose()


@pytest.mark.parametrize("configured", [{"purge_batch": 2}], indirect=True)
async def test_the_job_clears_expired_cooldowns_in_batches(configured: Container, clock: ManualClock) -> None:
    container = configured
    users = [await make_user(container, 7000 + n) for n in range(5)]
    async with container.unit_of_work(write=True) as uow:
        for n, user in enumerate(users):
            await CooldownService(uow).start(user, "claim", clock.now() + timedelta(seconds=10 if n < 4 else 1000))
    clock.advance(10)
    assert await rewards_jobs.purge_expired_cooldowns(container) == 4
    async with container.unit_of_work(write=False) as uow:
        left = (await uow.session.execute(select(Cooldown.user_id))).scalars().all()
    assert left == [users[4]]
    assert await rewards_jobs.purge_expired_cooldowns(container) == 0


async def test_balance_pages_through_the_latest_entries(container: Container) -> None:
    clock = container.clock
    assert isinstance(clock, ManualClock)
    user = await make_user(container, 8001)
    for _ in range(3):
        await claim(container, user)
        clock.advance(86400)
    async with container.unit_of_work(write=False) as uow:
        first = await RewardsService(uow).balance(user, limit=2)
        assert first.balance == 300
        assert [e.amount for e in first.entries] == [100, 100]
        assert first.next_before is not None
        second = await RewardsService(uow).balance(user, limit=2, before=first.next_before)
        assert len(second.entries) == 1
        assert second.next_before is None
        assert second.entries[0].id < first.entries[-1].id
        assert (await RewardsService(uow).balance(9999)).balance == 0


def test_domain_error_of_cooldown_is_429() -> None:
    assert issubclass(CooldownActive, DomainError)
    assert CooldownActive.status_hint == 429


async def test_the_scheduler_runs_the_cooldown_job(container: Container, clock: ManualClock) -> None:
    from core.jobs import maintenance_jobs, run_job

    [job] = [job for job in maintenance_jobs(container, purge_interval=60) if job.name == "purge-expired-cooldowns"]
    user = await make_user(container, 9101)
    async with container.unit_of_work(write=True) as uow:
        await CooldownService(uow).start(user, "claim", clock.now() + timedelta(seconds=5))
    clock.advance(5)
    assert await run_job(job, container.kv) == 1


async def test_a_referrer_set_after_todays_claim_does_not_pay_twice(container: Container) -> None:
    user = await make_user(container, 9201)
    await claim(container, user)
    referrer = await make_user(container, 9202)
    async with container.unit_of_work(write=True) as uow:
        row = await uow.session.get(User, user)
        assert row is not None
        row.referred_by_id = referrer
        assert await CooldownService(uow)._repo.clear(user, "claim")
    # Today's key is taken by a transaction with other entries: still today's one payment, no share.
    with pytest.raises(CooldownActive) as refused:
        await claim(container, user)
    assert refused.value.code == "already_claimed"
    assert (await balance(container, user), await balance(container, referrer)) == (100, 0)
    await assert_ledger_consistent(container)
