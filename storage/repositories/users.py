"""Queries on users. Repositories flush when they need generated ids but never commit: the unit of work does."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models.user import User


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: int, *, for_update: bool = False) -> User | None:
        # FOR UPDATE reads the row again even when the session holds it (SQLite has no row locks and ignores it).
        return await self.session.get(User, user_id, with_for_update=True if for_update else None)

    async def by_telegram_id(self, telegram_id: int) -> User | None:
        result = await self.session.execute(select(User).where(User.telegram_id == telegram_id))
        return result.scalar_one_or_none()

    async def by_email_key(self, email_key: str) -> User | None:
        result = await self.session.execute(select(User).where(User.email_key == email_key))
        return result.scalar_one_or_none()

    async def by_login_key(self, key: str) -> User | None:
        """A login name may be an email address or a username; both keys are casefolded."""
        result = await self.session.execute(select(User).where(or_(User.email_key == key, User.username_key == key)))
        return result.scalars().first()

    async def username_taken(self, username_key: str, *, except_user: int | None = None) -> bool:
        query = select(User.id).where(User.username_key == username_key)
        if except_user is not None:
            query = query.where(User.id != except_user)
        return (await self.session.execute(query.limit(1))).first() is not None

    async def add(self, user: User) -> User:
        self.session.add(user)
        await self.session.flush()
        return user
