"""Sign-in identities, binding codes and referral links."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models.identity import BindingCode, Identity, ReferralCodeAlias
from storage.models.user import User


class IdentityRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def find(self, provider: str, subject: str) -> Identity | None:
        result = await self.session.execute(
            select(Identity).where(Identity.provider == provider, Identity.subject == subject)
        )
        return result.scalar_one_or_none()

    async def of_user(self, user_id: int) -> Sequence[Identity]:
        result = await self.session.execute(
            select(Identity).where(Identity.user_id == user_id).order_by(Identity.provider)
        )
        return result.scalars().all()

    async def add(self, identity: Identity) -> None:
        self.session.add(identity)
        await self.session.flush()

    async def remove(self, identity: Identity) -> None:
        await self.session.delete(identity)
        await self.session.flush()

    # --- binding codes -------------------------------------------------------------------------------------

    async def add_code(self, code: BindingCode) -> None:
        self.session.add(code)
        await self.session.flush()

    async def code_by_hash(self, code_hash: str) -> BindingCode | None:
        result = await self.session.execute(select(BindingCode).where(BindingCode.code_hash == code_hash))
        return result.scalar_one_or_none()

    async def live_codes_for_telegram(self, telegram_id: int, now: datetime) -> Sequence[BindingCode]:
        result = await self.session.execute(
            select(BindingCode).where(
                BindingCode.telegram_id == telegram_id,
                BindingCode.used_at.is_(None),
                BindingCode.expires_at > now,
            )
        )
        return result.scalars().all()

    async def claim_code(self, code_id: int, now: datetime) -> bool:
        """Atomically mark a code used; False when another redemption got there first."""
        result = await self.session.execute(
            update(BindingCode)
            .where(BindingCode.id == code_id, BindingCode.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def count_failure(self, code_id: int) -> None:
        await self.session.execute(
            update(BindingCode)
            .where(BindingCode.id == code_id)
            .values(failed_attempts=BindingCode.failed_attempts + 1)
            .execution_options(synchronize_session=False)
        )

    async def purge_codes(self, now: datetime, batch: int) -> int:
        ids = (
            (await self.session.execute(select(BindingCode.id).where(BindingCode.expires_at <= now).limit(batch)))
            .scalars()
            .all()
        )
        if not ids:
            return 0
        await self.session.execute(delete(BindingCode).where(BindingCode.id.in_(ids)))
        return len(ids)

    # --- referrals -----------------------------------------------------------------------------------------

    async def by_referral_code(self, code: str) -> User | None:
        """The user of a code: its own current code, or one it kept from an account linked into it."""
        result = await self.session.execute(select(User).where(User.referral_code == code))
        user = result.scalar_one_or_none()
        if user is not None:
            return user
        alias = await self.session.get(ReferralCodeAlias, code)
        return await self.session.get(User, alias.user_id) if alias is not None else None

    async def add_code_alias(self, alias: ReferralCodeAlias) -> None:
        self.session.add(alias)
        await self.session.flush()

    async def move_code_aliases(self, from_user: int, to_user: int) -> None:
        await self.session.execute(
            update(ReferralCodeAlias)
            .where(ReferralCodeAlias.user_id == from_user)
            .values(user_id=to_user)
            .execution_options(synchronize_session=False)
        )

    async def referral_count(self, user_id: int) -> int:
        result = await self.session.execute(
            select(func.count()).select_from(User).where(User.referred_by_id == user_id)
        )
        return int(result.scalar_one())

    async def referrer_of(self, user_id: int) -> int | None:
        result = await self.session.execute(select(User.referred_by_id).where(User.id == user_id))
        return result.scalar_one_or_none()

    async def move_referrals(self, from_user: int, to_user: int) -> None:
        await self.session.execute(
            update(User)
            .where(User.referred_by_id == from_user)
            .values(referred_by_id=to_user)
            .execution_options(synchronize_session=False)
        )
