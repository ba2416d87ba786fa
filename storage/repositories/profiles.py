"""Telegram profiles and pending profile logins.

Everything a person can reach is looked up by owner: a query by a row's id always also names its owner, so one
person's id never reaches another person's row. Only the key-rotation and purge queries span owners; they serve
maintenance jobs, not requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models.profiles import PendingProfileLogin, TelegramProfile


@dataclass(frozen=True, slots=True)
class SealedRow:
    """One encrypted value and what its associated data is made of, for re-sealing under a new key."""

    table: str
    id: int
    owner_id: int
    phone: str
    key_id: str
    sealed: bytes = field(repr=False)


class ProfileRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- profiles ------------------------------------------------------------------------------------------

    async def add(self, profile: TelegramProfile) -> TelegramProfile:
        self.session.add(profile)
        await self.session.flush()
        return profile

    async def of_owner(self, owner_id: int) -> Sequence[TelegramProfile]:
        result = await self.session.execute(
            select(TelegramProfile)
            .where(TelegramProfile.owner_id == owner_id)
            .order_by(TelegramProfile.created_at, TelegramProfile.id)
        )
        return result.scalars().all()

    async def get(self, owner_id: int, profile_id: int) -> TelegramProfile | None:
        result = await self.session.execute(
            select(TelegramProfile).where(TelegramProfile.id == profile_id, TelegramProfile.owner_id == owner_id)
        )
        return result.scalar_one_or_none()

    async def by_phone(self, owner_id: int, phone: str) -> TelegramProfile | None:
        result = await self.session.execute(
            select(TelegramProfile).where(TelegramProfile.owner_id == owner_id, TelegramProfile.phone == phone)
        )
        return result.scalar_one_or_none()

    async def touch(self, owner_id: int, profile_id: int, now: datetime) -> None:
        await self.session.execute(
            update(TelegramProfile)
            .where(TelegramProfile.id == profile_id, TelegramProfile.owner_id == owner_id)
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )

    async def mark_revoked(self, owner_id: int, profile_id: int, now: datetime) -> bool:
        """Revoked, and its session forgotten: it opens nothing any more. False when no such active profile."""
        result = await self.session.execute(
            update(TelegramProfile)
            .where(
                TelegramProfile.id == profile_id,
                TelegramProfile.owner_id == owner_id,
                TelegramProfile.state == "active",
            )
            .values(state="revoked", session_sealed=None, key_id=None, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def remove(self, owner_id: int, profile_id: int) -> bool:
        result = await self.session.execute(
            delete(TelegramProfile).where(TelegramProfile.id == profile_id, TelegramProfile.owner_id == owner_id)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    # --- pending logins ------------------------------------------------------------------------------------

    async def pending(self, owner_id: int, phone: str, now: datetime) -> PendingProfileLogin | None:
        """The owner's unexpired pending login for a phone."""
        result = await self.session.execute(
            select(PendingProfileLogin).where(
                PendingProfileLogin.owner_id == owner_id,
                PendingProfileLogin.phone == phone,
                PendingProfileLogin.expires_at > now,
            )
        )
        return result.scalar_one_or_none()

    async def save_pending(
        self, owner_id: int, phone: str, *, sealed: bytes, key_id: str, now: datetime, expires_at: datetime
    ) -> PendingProfileLogin:
        """Start (or restart) the login for a phone: a new code replaces the state and the count of the old one."""
        existing = (
            await self.session.execute(
                select(PendingProfileLogin).where(
                    PendingProfileLogin.owner_id == owner_id, PendingProfileLogin.phone == phone
                )
            )
        ).scalar_one_or_none()
        if existing is None:
            existing = PendingProfileLogin(owner_id=owner_id, phone=phone)
            self.session.add(existing)
        existing.state_sealed = sealed
        existing.key_id = key_id
        existing.failed_attempts = 0
        existing.created_at = now
        existing.expires_at = expires_at
        await self.session.flush()
        return existing

    async def count_failed_attempt(self, owner_id: int, pending_id: int) -> int:
        """One more wrong code or password; the new total (0 when the login is gone)."""
        await self.session.execute(
            update(PendingProfileLogin)
            .where(PendingProfileLogin.id == pending_id, PendingProfileLogin.owner_id == owner_id)
            .values(failed_attempts=PendingProfileLogin.failed_attempts + 1)
            .execution_options(synchronize_session=False)
        )
        result = await self.session.execute(
            select(PendingProfileLogin.failed_attempts).where(
                PendingProfileLogin.id == pending_id, PendingProfileLogin.owner_id == owner_id
            )
        )
        return int(result.scalar_one_or_none() or 0)

    async def remove_pending(self, owner_id: int, phone: str) -> bool:
        result = await self.session.execute(
            delete(PendingProfileLogin).where(
                PendingProfileLogin.owner_id == owner_id, PendingProfileLogin.phone == phone
            )
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def purge_expired_pending(self, now: datetime, batch: int) -> int:
        ids = (
            (
                await self.session.execute(
                    select(PendingProfileLogin.id).where(PendingProfileLogin.expires_at <= now).limit(batch)
                )
            )
            .scalars()
            .all()
        )
        if not ids:
            return 0
        await self.session.execute(delete(PendingProfileLogin).where(PendingProfileLogin.id.in_(ids)))
        return len(ids)

    # --- key rotation --------------------------------------------------------------------------------------

    async def sealed_profiles(self, *, after_id: int, batch: int, not_key_id: str | None = None) -> list[SealedRow]:
        """Profiles holding a sealed session, by id after `after_id`; only those not under `not_key_id` if given."""
        query = select(TelegramProfile).where(
            TelegramProfile.id > after_id, TelegramProfile.session_sealed.is_not(None)
        )
        if not_key_id is not None:
            query = query.where(TelegramProfile.key_id != not_key_id)
        rows = (await self.session.execute(query.order_by(TelegramProfile.id).limit(batch))).scalars().all()
        return [
            SealedRow("telegram_profiles", row.id, row.owner_id, row.phone, row.key_id or "", row.session_sealed)
            for row in rows
            if row.session_sealed is not None
        ]

    async def sealed_pending(self, *, after_id: int, batch: int, not_key_id: str | None = None) -> list[SealedRow]:
        query = select(PendingProfileLogin).where(PendingProfileLogin.id > after_id)
        if not_key_id is not None:
            query = query.where(PendingProfileLogin.key_id != not_key_id)
        rows = (await self.session.execute(query.order_by(PendingProfileLogin.id).limit(batch))).scalars().all()
        return [
            SealedRow("pending_profile_logins", row.id, row.owner_id, row.phone, row.key_id, row.state_sealed)
            for row in rows
        ]

    async def reseal(self, row: SealedRow, *, sealed: bytes, key_id: str) -> bool:
        """Replace a sealed value only if it is still the one read: a login or revocation in between wins."""
        if row.table == "telegram_profiles":
            result = await self.session.execute(
                update(TelegramProfile)
                .where(TelegramProfile.id == row.id, TelegramProfile.session_sealed == row.sealed)
                .values(session_sealed=sealed, key_id=key_id)
                .execution_options(synchronize_session=False)
            )
        elif row.table == "pending_profile_logins":
            result = await self.session.execute(
                update(PendingProfileLogin)
                .where(PendingProfileLogin.id == row.id, PendingProfileLogin.state_sealed == row.sealed)
                .values(state_sealed=sealed, key_id=key_id)
                .execution_options(synchronize_session=False)
            )
        else:
            raise ValueError(f"unknown table {row.table!r}")
        return bool(getattr(result, "rowcount", 0) == 1)
