"""The points ledger and cooldowns on a real database migrated to head, each unit of work its own transaction."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from storage.db import Database
from storage.models import AccountKind, Cooldown, LedgerAccount, LedgerEntry, LedgerTransaction, User
from storage.repositories.rewards import (
    CooldownRepository,
    IdempotencyConflict,
    InsufficientBalance,
    LedgerRepository,
    Posted,
    UnknownAccount,
)
from storage.repositories.users import UserRepository

NOW = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)



async def make_user(db: Database, telegram_id: int) -> int:
    async with db.unit_of_work() as session:
        user = await UserRepository(session).add(User(telegram_id=telegram_id))
        return user.id


async def accounts(db: Database, user_id: int) -> tuple[int, int]:
    """(rewards pool, the user's points account) ids."""
    async with db.unit_of_work() as session:
        ledger = LedgerRepository(session)
        return (await ledger.pool(AccountKind.REWARDS_POOL)).id, (await ledger.user_account(user_id)).id


async def balances(db: Database) -> dict[int, int]:
    async with db.unit_of_work(write=False) as session:
        rows = (await session.execute(select(LedgerAccount.id, LedgerAccount.balance))).all()
        return dict(rows)


async def recomputed(db: Database) -> dict[int, int]:
    """Every account's balance from its entries alone (accounts without entries at zero)."""
    async with db.unit_of_work(write=False) as session:
        totals = dict(
            (
                await session.execute(
                    select(LedgerEntry.account_id, func.sum(LedgerEntry.amount)).group_by(LedgerEntry.account_id)
                )
            ).all()
        )
        ids = (await session.execute(select(LedgerAccount.id))).scalars().all()
    return {account_id: int(totals.get(account_id, 0)) for account_id in ids}


async def credit(db: Database, pool: int, account: int, amount: int, key: str) -> Posted:
    async with db.unit_of_work() as session:
        return await LedgerRepository(session).post(
            kind="daily_claim",
            idempotency_key=key,
            entries={pool: -amount, account: amount},
            created_at=NOW,
            memo={"day": "2030-03-01"},
        )


# --- accounts -----------------------------------------------------------------------------------------------------


async def test_accounts_are_created_once_per_kind_and_user(db: Database) -> None:
    alice, bob = await make_user(db, 1), await make_user(db, 2)
    async with db.unit_of_work() as session:
        ledger = LedgerRepository(session)
        first = await ledger.user_account(alice)
        assert (await ledger.user_account(alice)).id == first.id
        assert (await ledger.user_account(bob)).id != first.id
        rewards = await ledger.pool(AccountKind.REWARDS_POOL)
        assert (await ledger.pool(AccountKind.REWARDS_POOL)).id == rewards.id
        referral = await ledger.pool(AccountKind.REFERRAL_POOL)
        assert referral.id != rewards.id
        assert (first.kind, first.user_id, first.allow_negative, first.balance) == ("user_points", alice, False, 0)
        assert (rewards.user_id, rewards.allow_negative) == (None, True)
        with pytest.raises(ValueError, match="user_account"):
            await ledger.pool(AccountKind.USER_POINTS)
    async with db.unit_of_work(write=False) as session:
        assert (await session.execute(select(func.count()).select_from(LedgerAccount))).scalar_one() == 4


async def test_concurrent_first_uses_create_one_account(db: Database) -> None:
    alice = await make_user(db, 1)

    async def open_account() -> tuple[int, int]:
        async with db.unit_of_work() as session:
            ledger = LedgerRepository(session)
            return (await ledger.user_account(alice)).id, (await ledger.pool(AccountKind.REFERRAL_POOL)).id

    results = await asyncio.gather(*(open_account() for _ in range(10)))
    assert len(set(results)) == 1
    async with db.unit_of_work(write=False) as session:
        assert (await session.execute(select(func.count()).select_from(LedgerAccount))).scalar_one() == 2


async def test_the_schema_itself_refuses_duplicate_accounts(db: Database) -> None:
    alice = await make_user(db, 1)
    await accounts(db, alice)
    # A pool has no user, and NULLs never collide in a unique constraint: the partial index must catch it.
    for values in (
        {"kind": "rewards_pool", "user_id": None, "allow_negative": True, "created_at": NOW},
        {"kind": "user_points", "user_id": alice, "allow_negative": False, "created_at": NOW},
    ):
        with pytest.raises(IntegrityError):
            async with db.unit_of_work() as session:
                await session.execute(insert(LedgerAccount).values(**values))


# --- posting ------------------------------------------------------------------------------------------------------


async def test_a_credit_is_recorded_as_balanced_entries(db: Database) -> None:
    alice = await make_user(db, 1)
    pool, account = await accounts(db, alice)
    posted = await credit(db, pool, account, 100, "daily:1:2030-03-01")
    assert posted.created
    async with db.unit_of_work(write=False) as session:
        ledger = LedgerRepository(session)
        transaction = await ledger.transaction_by_key("daily:1:2030-03-01")
        assert transaction is not None
        assert transaction.id == posted.transaction.id
        assert (transaction.kind, transaction.created_at, transaction.memo) == (
            "daily_claim",
            NOW,
            {"day": "2030-03-01"},
        )
        assert await ledger.entries_by_account(transaction.id) == {pool: -100, account: 100}
        assert await ledger.balance(account) == 100
        assert await ledger.balance(pool) == -100
        with pytest.raises(UnknownAccount):
            await ledger.balance(999)


@pytest.mark.parametrize(
    ("entries", "match"),
    [
        ({1: 100, 2: -99}, "add up to zero"),
        ({1: 100}, "at least two"),
        ({1: 0, 2: 0}, "non-zero"),
        ({1: 2**63, 2: -(2**63)}, "64-bit"),
    ],
)
async def test_malformed_postings_are_refused_before_writing(db: Database, entries: dict[int, int], match: str) -> None:
    alice = await make_user(db, 1)
    await accounts(db, alice)
    async with db.unit_of_work() as session:
        with pytest.raises(ValueError, match=match):
            await LedgerRepository(session).post(kind="x", idempotency_key="k", entries=entries, created_at=NOW)
    async with db.unit_of_work(write=False) as session:
        assert (await session.execute(select(func.count()).select_from(LedgerTransaction))).scalar_one() == 0


async def test_a_refused_posting_leaves_nothing_and_the_transaction_usable(db: Database) -> None:
    alice = await make_user(db, 1)
    pool, account = await accounts(db, alice)
    await credit(db, pool, account, 100, "grant")
    async with db.unit_of_work() as session:
        ledger = LedgerRepository(session)
        with pytest.raises(InsufficientBalance) as caught:
            await ledger.post(
                kind="spend", idempotency_key="too-much", entries={account: -150, pool: 150}, created_at=NOW
            )
        assert caught.value.account_id == account
        with pytest.raises(UnknownAccount):
            await ledger.post(kind="spend", idempotency_key="nowhere", entries={account: -10, 999: 10}, created_at=NOW)
        # The same unit of work goes on and commits what it does next.
        spent = await ledger.post(
            kind="spend", idempotency_key="fits", entries={account: -60, pool: 60}, created_at=NOW
        )
        assert spent.created
    async with db.unit_of_work(write=False) as session:
        ledger = LedgerRepository(session)
        assert await ledger.transaction_by_key("too-much") is None
        assert await ledger.transaction_by_key("nowhere") is None
        keys = (await session.execute(select(LedgerTransaction.idempotency_key))).scalars().all()
        assert sorted(keys) == ["fits", "grant"]
        assert (await session.execute(select(func.count()).select_from(LedgerEntry))).scalar_one() == 4
    assert await balances(db) == {pool: -40, account: 40}
    assert await recomputed(db) == await balances(db)


async def test_the_schema_refuses_a_negative_user_balance_and_zero_entries(db: Database) -> None:
    alice = await make_user(db, 1)
    pool, account = await accounts(db, alice)
    posted = await credit(db, pool, account, 5, "grant")
    with pytest.raises(IntegrityError):
        async with db.unit_of_work() as session:
            await session.execute(update(LedgerAccount).where(LedgerAccount.id == account).values(balance=-1))
    with pytest.raises(IntegrityError):
        async with db.unit_of_work() as session:
            await session.execute(
                insert(LedgerEntry).values(transaction_id=posted.transaction.id, account_id=account, amount=0)
            )
    # A pool may go below zero: that is how it counts what it handed out.
    assert (await balances(db))[pool] == -5


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_entries SET amount = amount * 2",
        "DELETE FROM ledger_entries",
        "UPDATE ledger_transactions SET kind = 'forged'",
        "DELETE FROM ledger_transactions",
    ],
)
async def test_ledger_rows_cannot_be_changed_or_removed(db: Database, statement: str) -> None:
    alice = await make_user(db, 1)
    pool, account = await accounts(db, alice)
    await credit(db, pool, account, 100, "grant")
    with pytest.raises(IntegrityError, match="append-only"):
        async with db.unit_of_work() as session:
            await session.execute(text(statement))
    assert await recomputed(db) == {pool: -100, account: 100}


async def test_reposting_a_key_returns_the_first_transaction(db: Database) -> None:
    alice = await make_user(db, 1)
    pool, account = await accounts(db, alice)
    first = await credit(db, pool, account, 100, "daily:1:2030-03-01")
    again = await credit(db, pool, account, 100, "daily:1:2030-03-01")
    assert not again.created
    assert again.transaction.id == first.transaction.id
    with pytest.raises(IdempotencyConflict):
        await credit(db, pool, account, 101, "daily:1:2030-03-01")
    with pytest.raises(IdempotencyConflict):
        async with db.unit_of_work() as session:
            await LedgerRepository(session).post(
                kind="referral_bonus",
                idempotency_key="daily:1:2030-03-01",
                entries={pool: -100, account: 100},
                created_at=NOW,
            )
    assert await balances(db) == {pool: -100, account: 100}


async def test_twenty_concurrent_posts_of_one_key_make_one_transaction(db: Database) -> None:
    alice = await make_user(db, 1)
    pool, account = await accounts(db, alice)
    results = await asyncio.gather(*(credit(db, pool, account, 100, "daily:1:2030-03-01") for _ in range(20)))
    assert sum(result.created for result in results) == 1
    assert len({result.transaction.id for result in results}) == 1
    async with db.unit_of_work(write=False) as session:
        assert (await session.execute(select(func.count()).select_from(LedgerTransaction))).scalar_one() == 1
        assert (await session.execute(select(func.count()).select_from(LedgerEntry))).scalar_one() == 2
    assert await balances(db) == {pool: -100, account: 100}
    assert await recomputed(db) == await balances(db)


async def test_concurrent_spends_never_overdraw(db: Database) -> None:
    alice = await make_user(db, 1)
    pool, account = await accounts(db, alice)
    await credit(db, pool, account, 100, "grant")

    async def spend(index: int) -> bool:
        async with db.unit_of_work() as session:
            try:
                await LedgerRepository(session).post(
                    kind="spend", idempotency_key=f"spend:{index}", entries={account: -30, pool: 30}, created_at=NOW
                )
            except InsufficientBalance:
                return False
            return True

    outcomes = await asyncio.gather(*(spend(index) for index in range(6)))
    assert outcomes.count(True) == 3
    assert await balances(db) == {pool: -10, account: 10}
    assert await recomputed(db) == await balances(db)


async def test_cached_balances_equal_the_sum_of_entries_after_mixed_traffic(db: Database) -> None:
    users = [await make_user(db, telegram_id) for telegram_id in range(1, 6)]
    async with db.unit_of_work() as session:
        ledger = LedgerRepository(session)
        rewards = (await ledger.pool(AccountKind.REWARDS_POOL)).id
        referral = (await ledger.pool(AccountKind.REFERRAL_POOL)).id
        points = [(await ledger.user_account(user)).id for user in users]

    async def traffic(index: int) -> None:
        user_account = points[index % len(points)]
        other = points[(index + 1) % len(points)]
        moves = [
            ("daily_claim", {rewards: -(10 + index), user_account: 10 + index}),
            ("referral_bonus", {referral: -5, other: 5}),
            ("transfer", {user_account: -3, other: 3}),
        ]
        for step, (kind, entries) in enumerate(moves):
            async with db.unit_of_work() as session:
                await LedgerRepository(session).post(
                    kind=kind, idempotency_key=f"{kind}:{index}:{step}", entries=entries, created_at=NOW
                )

    # Each batch twice: the repeats must change nothing.
    await asyncio.gather(*(traffic(index) for index in range(15)), *(traffic(index) for index in range(15)))
    cached = await balances(db)
    assert cached == await recomputed(db)
    assert sum(cached.values()) == 0
    assert cached[rewards] == -sum(10 + index for index in range(15))
    assert cached[referral] == -5 * 15
    async with db.unit_of_work(write=False) as session:
        ledger = LedgerRepository(session)
        assert await ledger.balance_mismatches() == []
        assert await ledger.unbalanced_transactions() == []
        assert (await session.execute(select(func.count()).select_from(LedgerTransaction))).scalar_one() == 45


async def test_audits_find_a_tampered_balance_and_a_lopsided_transaction(db: Database) -> None:
    alice = await make_user(db, 1)
    pool, account = await accounts(db, alice)
    posted = await credit(db, pool, account, 100, "grant")
    async with db.unit_of_work() as session:
        await session.execute(update(LedgerAccount).where(LedgerAccount.id == account).values(balance=1000))
        await session.execute(
            insert(LedgerEntry).values(transaction_id=posted.transaction.id, account_id=pool, amount=7)
        )
    async with db.unit_of_work(write=False) as session:
        ledger = LedgerRepository(session)
        assert await ledger.balance_mismatches() == [(pool, -100, -93), (account, 1000, 100)]
        assert await ledger.unbalanced_transactions() == [posted.transaction.id]


async def test_history_pages_newest_first(db: Database) -> None:
    alice = await make_user(db, 1)
    pool, account = await accounts(db, alice)
    for day in range(1, 6):
        await credit(db, pool, account, day, f"daily:{day}")
    async with db.unit_of_work(write=False) as session:
        ledger = LedgerRepository(session)
        page = await ledger.history(account, limit=2)
        assert [entry.amount for entry, _ in page] == [5, 4]
        assert [transaction.idempotency_key for _, transaction in page] == ["daily:5", "daily:4"]
        rest = await ledger.history(account, limit=10, before_entry_id=page[-1][0].id)
        assert [entry.amount for entry, _ in rest] == [3, 2, 1]


async def test_account_objects_in_the_session_show_the_posted_balance(db: Database) -> None:
    alice = await make_user(db, 1)
    async with db.unit_of_work() as session:
        ledger = LedgerRepository(session)
        pool = await ledger.pool(AccountKind.REWARDS_POOL)
        account = await ledger.user_account(alice)
        await ledger.post(kind="grant", idempotency_key="g", entries={pool.id: -8, account.id: 8}, created_at=NOW)
        assert (await ledger.user_account(alice)).balance == 8
        assert account.balance == 8


async def test_a_user_with_points_cannot_be_deleted_away(db: Database) -> None:
    alice = await make_user(db, 1)
    await accounts(db, alice)
    with pytest.raises(IntegrityError):
        async with db.unit_of_work() as session:
            await session.execute(text("DELETE FROM users WHERE id = :id"), {"id": alice})


# --- cooldowns ----------------------------------------------------------------------------------------------------


async def test_cooldowns_are_set_extended_never_shortened(db: Database) -> None:
    alice, bob = await make_user(db, 1), await make_user(db, 2)
    async with db.unit_of_work() as session:
        cooldowns = CooldownRepository(session)
        assert await cooldowns.set_or_extend(alice, "claim", NOW + timedelta(hours=24)) == NOW + timedelta(hours=24)
        assert await cooldowns.set_or_extend(alice, "claim", NOW + timedelta(hours=1)) == NOW + timedelta(hours=24)
        assert await cooldowns.set_or_extend(alice, "claim", NOW + timedelta(hours=30)) == NOW + timedelta(hours=30)
        await cooldowns.set_or_extend(alice, "spin", NOW + timedelta(minutes=5))
        await cooldowns.set_or_extend(alice, "old", NOW - timedelta(minutes=5))
        await cooldowns.set_or_extend(bob, "claim", NOW + timedelta(hours=2))
    async with db.unit_of_work(write=False) as session:
        cooldowns = CooldownRepository(session)
        active = await cooldowns.active(alice, NOW)
        assert [(row.action, row.until) for row in active] == [
            ("claim", NOW + timedelta(hours=30)),
            ("spin", NOW + timedelta(minutes=5)),
        ]
        assert await cooldowns.until(alice, "claim", NOW) == NOW + timedelta(hours=30)
        assert await cooldowns.until(alice, "old", NOW) is None
        assert await cooldowns.until(alice, "spin", NOW + timedelta(minutes=5)) is None
        assert [row.action for row in await cooldowns.active(bob, NOW)] == ["claim"]


async def test_an_expired_cooldown_is_replaced_and_reads_see_the_new_end(db: Database) -> None:
    alice = await make_user(db, 1)
    async with db.unit_of_work() as session:
        cooldowns = CooldownRepository(session)
        await cooldowns.set_or_extend(alice, "claim", NOW + timedelta(hours=1))
        assert [row.until for row in await cooldowns.active(alice, NOW)] == [NOW + timedelta(hours=1)]
        later = NOW + timedelta(days=2)
        await cooldowns.set_or_extend(alice, "claim", later + timedelta(hours=24))
        assert [row.until for row in await cooldowns.active(alice, later)] == [later + timedelta(hours=24)]
        assert await cooldowns.clear(alice, "claim")
        assert not await cooldowns.clear(alice, "claim")
        assert await cooldowns.active(alice, NOW) == []


async def test_concurrent_extensions_keep_the_latest_end(db: Database) -> None:
    alice = await make_user(db, 1)

    async def extend(hours: int) -> None:
        async with db.unit_of_work() as session:
            await CooldownRepository(session).set_or_extend(alice, "claim", NOW + timedelta(hours=hours))

    await asyncio.gather(*(extend(hours) for hours in (5, 1, 9, 3, 7)))
    async with db.unit_of_work(write=False) as session:
        assert await CooldownRepository(session).until(alice, "claim", NOW) == NOW + timedelta(hours=9)


async def test_expired_cooldowns_are_purged_in_batches(db: Database) -> None:
    users = [await make_user(db, telegram_id) for telegram_id in range(1, 8)]
    async with db.unit_of_work() as session:
        cooldowns = CooldownRepository(session)
        for index, user in enumerate(users):
            await cooldowns.set_or_extend(user, "claim", NOW - timedelta(minutes=index + 1))
            await cooldowns.set_or_extend(user, "spin", NOW + timedelta(minutes=index + 1))
        await cooldowns.set_or_extend(users[0], "edge", NOW)
    removed = []
    for _ in range(4):
        async with db.unit_of_work() as session:
            removed.append(await CooldownRepository(session).purge_expired(NOW, batch=3))
    assert removed == [3, 3, 2, 0]
    async with db.unit_of_work(write=False) as session:
        left = (await session.execute(select(Cooldown.action, func.count()).group_by(Cooldown.action))).all()
        assert dict(left) == {"spin": 7}


async def test_cooldowns_go_with_their_user(db: Database) -> None:
    alice = await make_user(db, 1)
    async with db.unit_of_work() as session:
        await CooldownRepository(session).set_or_extend(alice, "claim", NOW + timedelta(hours=1))
    async with db.unit_of_work() as session:
        await session.execute(text("DELETE FROM users WHERE id = :id"), {"id": alice})
    async with db.unit_of_work(write=False) as session:
        assert (await session.execute(select(func.count()).select_from(Cooldown))).scalar_one() == 0
