"""Who holds an EVM address: the addresses live on the users table (migration 0009)."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models.user import User


class WalletRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def verified_owner(self, address: str, *, except_user: int) -> int | None:
        """Another user who has proved they hold ``address`` (on either chain), if any."""
        result = await self.session.execute(
            select(User.id)
            .where(
                User.id != except_user,
                or_(
                    (User.ethereum_address == address) & User.ethereum_verified_at.is_not(None),
                    (User.base_address == address) & User.base_verified_at.is_not(None),
                ),
            )
            .limit(1)
        )
        return result.scalar_one_or_none()
