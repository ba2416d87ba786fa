from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select, text
from sqlalchemy.exc import IntegrityError

from storage.db import Database
from storage.models import PendingProfileLogin, TelegramProfile, User
from storage.repositories.profiles import ProfileRepository
from storage.repositories.users import UserRepository

NOW = datetime(2030, 1, 1, tzinfo=UTC)
PHONE = "447700900123"



async def owners(db: Database) -> tuple[int, int]:
    async with db.unit_of_work() as session:
        users = UserRepository(session)
        alice = await users.add(User(telegram_id=1, first_name="Alice"))
        bob = await users.add(User(telegram_id=2, first_name="Bob"))
        return alice.id, bob.id


def profile(
    owner_id: int, phone: str = PHONE, *, telegram_id: int = 2**40, sealed: bytes = b"sealed-1"
) -> TelegramProfile:
    return TelegramProfile(
        owner_id=owner_id,
        phone=phone,
        telegram_id=telegram_id,
        first_name="Ann",
        username="ann",
        session_sealed=sealed,
        key_id="k1",
        created_at=NOW,
        updated_at=NOW,
    )


async def test_profiles_are_owner_scoped(db: Database) -> None:
    alice, bob = await owners(db)
    async with db.unit_of_work() as session:
        repo = ProfileRepository(session)
        first = await repo.add(profile(alice))
        await repo.add(profile(alice, "12025550143", telegram_id=5))
        await repo.add(profile(bob))  # the same phone under another owner is another profile
        first_id = first.id

    async with db.unit_of_work() as session:
        repo = ProfileRepository(session)
        assert [p.phone for p in await repo.of_owner(alice)] == [PHONE, "12025550143"]
        assert [p.owner_id for p in await repo.of_owner(bob)] == [bob]
        found = await repo.get(alice, first_id)
        assert found is not None
        assert found.telegram_id == 2**40
        assert found.state == "active"
        assert found.created_at.tzinfo is not None
        assert await repo.get(bob, first_id) is None  # Bob cannot reach Alice's row by its id
        assert (await repo.by_phone(bob, PHONE)) is not None
        assert await repo.by_phone(bob, "12025550143") is None

        await repo.touch(bob, first_id, NOW + timedelta(hours=1))
        assert not await repo.mark_revoked(bob, first_id, NOW)
        assert not await repo.remove(bob, first_id)
    async with db.unit_of_work(write=False) as session:
        untouched = await ProfileRepository(session).get(alice, first_id)
        assert untouched is not None
        assert (untouched.state, untouched.last_used_at, untouched.session_sealed) == ("active", None, b"sealed-1")


async def test_touch_revoke_remove(db: Database) -> None:
    alice, _ = await owners(db)
    async with db.unit_of_work() as session:
        profile_id = (await ProfileRepository(session).add(profile(alice))).id
    later = NOW + timedelta(minutes=5)
    async with db.unit_of_work() as session:
        repo = ProfileRepository(session)
        await repo.touch(alice, profile_id, later)
        assert await repo.mark_revoked(alice, profile_id, later)
        assert not await repo.mark_revoked(alice, profile_id, later)  # already revoked
    async with db.unit_of_work() as session:
        repo = ProfileRepository(session)
        row = await repo.get(alice, profile_id)
        assert row is not None
        assert (row.state, row.session_sealed, row.key_id) == ("revoked", None, None)
        assert row.last_used_at == later
        assert row.updated_at == later
        assert await repo.remove(alice, profile_id)
        assert await repo.get(alice, profile_id) is None


async def test_unique_owner_and_phone(db: Database) -> None:
    alice, _ = await owners(db)
    async with db.unit_of_work() as session:
        await ProfileRepository(session).add(profile(alice))
    with pytest.raises(IntegrityError):
        async with db.unit_of_work() as session:
            await ProfileRepository(session).add(profile(alice, telegram_id=9))


async def test_state_is_checked(db: Database) -> None:
    alice, _ = await owners(db)
    with pytest.raises(IntegrityError):
        async with db.unit_of_work() as session:
            bad = profile(alice)
            bad.state = "paused"
            await ProfileRepository(session).add(bad)


async def test_owner_deletion_cascades(db: Database) -> None:
    alice, bob = await owners(db)
    async with db.unit_of_work() as session:
        repo = ProfileRepository(session)
        await repo.add(profile(alice))
        await repo.add(profile(bob))
        await repo.save_pending(alice, "12025550143", sealed=b"s", key_id="k1", now=NOW, expires_at=NOW)
    async with db.unit_of_work() as session:
        await session.execute(delete(User).where(User.id == alice))
    async with db.unit_of_work(write=False) as session:
        assert (await session.execute(select(TelegramProfile.owner_id))).scalars().all() == [bob]
        assert (await session.execute(select(PendingProfileLogin.id))).scalars().all() == []


async def test_pending_login_lifecycle(db: Database) -> None:
    alice, bob = await owners(db)
    expires = NOW + timedelta(minutes=10)
    async with db.unit_of_work() as session:
        repo = ProfileRepository(session)
        first = await repo.save_pending(alice, PHONE, sealed=b"state-1", key_id="k1", now=NOW, expires_at=expires)
        assert await repo.count_failed_attempt(alice, first.id) == 1
        assert await repo.count_failed_attempt(bob, first.id) == 0  # not Bob's
        assert await repo.count_failed_attempt(alice, first.id) == 2
        pending_id = first.id

    async with db.unit_of_work() as session:
        repo = ProfileRepository(session)
        found = await repo.pending(alice, PHONE, NOW)
        assert found is not None
        assert (found.state_sealed, found.failed_attempts) == (b"state-1", 2)
        assert await repo.pending(bob, PHONE, NOW) is None
        assert await repo.pending(alice, PHONE, expires) is None  # expired at expires_at

        # A new code for the same phone replaces the state and the count.
        again = await repo.save_pending(alice, PHONE, sealed=b"state-2", key_id="k2", now=NOW, expires_at=expires)
        assert again.id == pending_id
    async with db.unit_of_work() as session:
        repo = ProfileRepository(session)
        found = await repo.pending(alice, PHONE, NOW)
        assert found is not None
        assert (found.state_sealed, found.key_id, found.failed_attempts) == (b"state-2", "k2", 0)
        assert not await repo.remove_pending(bob, PHONE)
        assert await repo.remove_pending(alice, PHONE)
        assert await repo.pending(alice, PHONE, NOW) is None


async def test_purge_expired_pending_in_batches(db: Database) -> None:
    alice, _ = await owners(db)
    async with db.unit_of_work() as session:
        repo = ProfileRepository(session)
        for index in range(5):
            await repo.save_pending(
                alice,
                f"1202555014{index}",
                sealed=b"s",
                key_id="k1",
                now=NOW,
                expires_at=NOW + timedelta(minutes=index),
            )
    async with db.unit_of_work() as session:
        repo = ProfileRepository(session)
        cutoff = NOW + timedelta(minutes=3)  # four have expired by then
        assert await repo.purge_expired_pending(cutoff, batch=3) == 3
        assert await repo.purge_expired_pending(cutoff, batch=3) == 1
        assert await repo.purge_expired_pending(cutoff, batch=3) == 0
        assert (await repo.pending(alice, "12025550144", NOW)) is not None


async def test_sealed_rows_in_batches_and_compare_and_set_reseal(db: Database) -> None:
    alice, bob = await owners(db)
    async with db.unit_of_work() as session:
        repo = ProfileRepository(session)
        for index in range(5):
            owner = alice if index % 2 == 0 else bob
            await repo.add(profile(owner, f"4477009001{index:02}", telegram_id=index, sealed=f"p{index}".encode()))
        revoked = await repo.add(profile(alice, "4477009009999", telegram_id=99))
        await repo.mark_revoked(alice, revoked.id, NOW)
        await repo.save_pending(alice, PHONE, sealed=b"pending", key_id="k1", now=NOW, expires_at=NOW)

    async with db.unit_of_work(write=False) as session:
        repo = ProfileRepository(session)
        seen: list[bytes] = []
        after = 0
        while batch := await repo.sealed_profiles(after_id=after, batch=2):
            assert len(batch) <= 2
            seen.extend(row.sealed for row in batch)
            after = batch[-1].id
        assert seen == [b"p0", b"p1", b"p2", b"p3", b"p4"]  # the revoked profile has nothing sealed
        rows = await repo.sealed_profiles(after_id=0, batch=10)
        pending_rows = await repo.sealed_pending(after_id=0, batch=10)
    assert [(r.owner_id, r.phone, r.key_id) for r in pending_rows] == [(alice, PHONE, "k1")]
    assert b"p0" not in repr(rows[0]).encode()

    async with db.unit_of_work() as session:
        repo = ProfileRepository(session)
        assert await repo.reseal(rows[0], sealed=b"new0", key_id="k2")
        assert not await repo.reseal(rows[0], sealed=b"newer", key_id="k2")  # the value changed since it was read
        assert await repo.reseal(pending_rows[0], sealed=b"new-pending", key_id="k2")

    async with db.unit_of_work(write=False) as session:
        repo = ProfileRepository(session)
        left = await repo.sealed_profiles(after_id=0, batch=10, not_key_id="k2")
        assert [row.sealed for row in left] == [b"p1", b"p2", b"p3", b"p4"]
        assert await repo.sealed_pending(after_id=0, batch=10, not_key_id="k2") == []
        stored = await repo.get(alice, rows[0].id)
        assert stored is not None
        assert (stored.session_sealed, stored.key_id) == (b"new0", "k2")


@pytest.mark.sqlite_only
async def test_tables_exist_with_their_constraints(db: Database) -> None:
    async with db.read_engine.connect() as conn:
        sql = (
            await conn.execute(text("SELECT sql FROM sqlite_master WHERE type='table' AND name='telegram_profiles'"))
        ).scalar_one()
    assert "ck_telegram_profiles_state" in sql
    assert "uq_telegram_profiles_owner_id_phone" in sql
    assert "ON DELETE CASCADE" in sql
