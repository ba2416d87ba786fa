from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from core.profiles.crypto import KeyRing, SecretUnreadable, key_id_of
from core.profiles.sealing import pending_context, reseal_all, session_context
from storage.db import Database
from storage.models import PendingProfileLogin, TelegramProfile, User
from storage.repositories.profiles import ProfileRepository
from storage.repositories.users import UserRepository

NOW = datetime(2030, 1, 1, tzinfo=UTC)
OLD = KeyRing({"k1": bytes(range(32))}, "k1")
BOTH = KeyRing({"k1": bytes(range(32)), "k2": bytes(range(50, 82))}, "k2")
NEW = KeyRing({"k2": bytes(range(50, 82))}, "k2")
LOST = KeyRing({"k0": bytes(32)}, "k0")



def phone(index: int) -> str:
    return f"4477009001{index:02}"


async def fill(db: Database) -> tuple[int, int]:
    async with db.unit_of_work() as session:
        alice = await UserRepository(session).add(User(telegram_id=1))
        bob = await UserRepository(session).add(User(telegram_id=2))
        repo = ProfileRepository(session)
        for index in range(5):
            owner = alice.id if index % 2 else bob.id
            sealed = OLD.seal(f"session-{index}".encode(), session_context(owner, phone(index)))
            await repo.add(
                TelegramProfile(
                    owner_id=owner, phone=phone(index), telegram_id=index, session_sealed=sealed, key_id="k1",
                    created_at=NOW, updated_at=NOW,
                )
            )  # fmt: skip
        for index in range(3):
            sealed = OLD.seal(f"pending-{index}".encode(), pending_context(alice.id, phone(index)))
            await repo.save_pending(
                alice.id, phone(index), sealed=sealed, key_id="k1", now=NOW, expires_at=NOW + timedelta(minutes=5)
            )
        # Two rows no configured key opens: one under a lost key, one copied from Bob's row into Alice's.
        lost = LOST.seal(b"session-lost", session_context(alice.id, phone(50)))
        copied = OLD.seal(b"session-copied", session_context(bob.id, phone(51)))
        for number, sealed in ((50, lost), (51, copied)):
            await repo.add(
                TelegramProfile(
                    owner_id=alice.id, phone=phone(number), telegram_id=number, session_sealed=sealed,
                    key_id=key_id_of(sealed), created_at=NOW, updated_at=NOW,
                )
            )  # fmt: skip
        return alice.id, bob.id


async def test_reseal_all_moves_every_readable_secret_to_the_current_key(db: Database) -> None:
    alice, _ = await fill(db)
    report = await reseal_all(db, BOTH, batch=2)
    assert (report.resealed, report.raced, report.unreadable) == (8, 0, 2)

    async with db.unit_of_work(write=False) as session:
        profiles = (await session.execute(select(TelegramProfile).order_by(TelegramProfile.id))).scalars().all()
        pending = (await session.execute(select(PendingProfileLogin).order_by(PendingProfileLogin.id))).scalars().all()
    for row in profiles[:5]:
        assert row.key_id == "k2"
        assert row.session_sealed is not None
        # The old key alone no longer opens it; the new key alone does, in its own row only.
        assert (
            NEW.open(row.session_sealed, session_context(row.owner_id, row.phone))
            == f"session-{row.telegram_id}".encode()
        )
        with pytest.raises(SecretUnreadable):
            OLD.open(row.session_sealed, session_context(row.owner_id, row.phone))
    assert [NEW.open(row.state_sealed, pending_context(alice, row.phone)) for row in pending] == [
        b"pending-0", b"pending-1", b"pending-2",
    ]  # fmt: skip
    assert all(row.key_id == "k2" for row in pending)
    assert [row.key_id for row in profiles[5:]] == ["k0", "k1"]  # left as they were

    again = await reseal_all(db, BOTH, batch=2)
    assert (again.resealed, again.unreadable) == (0, 2)


async def test_nothing_to_do_under_the_current_key(db: Database) -> None:
    await fill(db)
    report = await reseal_all(db, KeyRing({"k1": bytes(range(32))}, "k1"))
    assert (report.resealed, report.raced) == (0, 0)
    assert report.unreadable == 1  # only the lost-key row is under another key id
