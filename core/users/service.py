"""User lifecycle shared by the bot and the REST API."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock
from core.errors import NotFound, ValidationFailed
from core.users.dto import TelegramProfile, UserDTO
from storage.models.user import User
from storage.repositories.users import UserRepository


class UserService:
    def __init__(self, session: AsyncSession, clock: Clock, *, languages: tuple[str, ...]) -> None:
        self._session = session
        self._users = UserRepository(session)
        self._clock = clock
        self._languages = languages

    async def get(self, user_id: int) -> UserDTO:
        user = await self._users.get(user_id)
        if user is None:
            raise NotFound("user_not_found", "User not found")
        return UserDTO.from_model(user)

    async def ensure_telegram_user(self, profile: TelegramProfile) -> tuple[UserDTO, bool]:
        """Find the user of this Telegram account or create one; True when created.

        Names follow Telegram, because people rename themselves there; the saved language is kept.
        """
        user = await self._users.by_telegram_id(profile.telegram_id)
        created = False
        if user is None:
            user, created = await self._create_telegram_user(profile)
        now = self._clock.now()
        changed = False
        for attr, value in (
            ("first_name", profile.first_name),
            ("last_name", profile.last_name),
            ("username", profile.username),
        ):
            if getattr(user, attr) != value:
                setattr(user, attr, value)
                changed = True
        if changed and not created:
            user.updated_at = now
            await self._session.flush()
        return UserDTO.from_model(user), created

    async def _create_telegram_user(self, profile: TelegramProfile) -> tuple[User, bool]:
        now = self._clock.now()
        candidate = User(
            telegram_id=profile.telegram_id,
            first_name=profile.first_name,
            last_name=profile.last_name,
            username=profile.username,
            language=None,
            created_at=now,
            updated_at=now,
        )
        # A concurrent update from the same person may create the row first (PostgreSQL does not serialize
        # writers the way SQLite's BEGIN IMMEDIATE does); the savepoint keeps our transaction usable.
        try:
            async with self._session.begin_nested():
                await self._users.add(candidate)
        except IntegrityError:
            existing = await self._users.by_telegram_id(profile.telegram_id)
            if existing is None:
                raise
            return existing, False
        return candidate, True

    async def set_language(self, user_id: int, language: str) -> UserDTO:
        if language not in self._languages:
            raise ValidationFailed("unsupported_language", f"Language must be one of: {', '.join(self._languages)}")
        user = await self._users.get(user_id)
        if user is None:
            raise NotFound("user_not_found", "User not found")
        user.language = language
        user.updated_at = self._clock.now()
        await self._session.flush()
        return UserDTO.from_model(user)
