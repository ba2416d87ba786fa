"""User lifecycle shared by the bot and the REST API; a `UserService` works inside the unit of work it is built on."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from core.container import UnitOfWork
from core.errors import Conflict, NotFound, ValidationFailed
from core.users.dto import TelegramProfile, UserDTO
from core.users.normalize import username_key
from core.users.referral import new_referral_code
from core.users.time_zones import time_zone_named
from storage.models.identity import Identity
from storage.models.user import User
from storage.repositories.identity import IdentityRepository
from storage.repositories.users import UserRepository


def matches_profile(user: UserDTO, profile: TelegramProfile) -> bool:
    """True when the user already carries the names Telegram reports, so nothing needs writing."""
    return (user.first_name, user.last_name, user.telegram_username) == (
        profile.first_name,
        profile.last_name,
        profile.username,
    )


@dataclass(frozen=True, slots=True)
class UsersConfig:
    languages: tuple[str, ...]


class UserService:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._session = uow.session
        self._users = UserRepository(uow.session)
        self._clock = uow.clock
        self._languages = uow.config(UsersConfig).languages

    async def _load(self, user_id: int) -> User:
        user = await self._users.get(user_id)
        if user is None:
            raise NotFound("user_not_found", "User not found")
        return user

    async def touch(self, user: User) -> None:
        """Record a change: caches holding an older revision reload after the commit."""
        user.revision += 1
        user.updated_at = self._clock.now()
        await self._session.flush()
        self._uow.user_changed(user)

    async def get(self, user_id: int) -> UserDTO:
        return UserDTO.from_model(await self._load(user_id))

    async def find_telegram_user(self, telegram_id: int) -> UserDTO | None:
        user = await self._users.by_telegram_id(telegram_id)
        return UserDTO.from_model(user) if user is not None else None

    async def ensure_telegram_user(self, profile: TelegramProfile) -> tuple[UserDTO, bool]:
        """Find the user of this Telegram account or create one; True when created.

        Names follow Telegram, because people rename themselves there; the saved language is kept.
        """
        user = await self._users.by_telegram_id(profile.telegram_id)
        if user is None:
            user, created = await self._create_telegram_user(profile)
            if created:
                return UserDTO.from_model(user), True
        changed = False
        for attr, value in (
            ("first_name", profile.first_name),
            ("last_name", profile.last_name),
            ("telegram_username", profile.username),
        ):
            if getattr(user, attr) != value:
                setattr(user, attr, value)
                changed = True
        if changed:
            await self.touch(user)
        return UserDTO.from_model(user), False

    async def _create_telegram_user(self, profile: TelegramProfile) -> tuple[User, bool]:
        now = self._clock.now()
        candidate = User(
            telegram_id=profile.telegram_id,
            first_name=profile.first_name,
            last_name=profile.last_name,
            telegram_username=profile.username,
            referral_code=new_referral_code(),
            date_joined=now,
            created_at=now,
            updated_at=now,
        )
        # A concurrent update from the same person may create the row first (PostgreSQL does not serialize
        # writers the way SQLite's BEGIN IMMEDIATE does); the savepoint keeps our transaction usable.
        try:
            async with self._session.begin_nested():
                await self._users.add(candidate)
                await IdentityRepository(self._session).add(
                    Identity(
                        user_id=candidate.id, provider="telegram", subject=str(profile.telegram_id), created_at=now
                    )
                )
        except IntegrityError:
            existing = await self._users.by_telegram_id(profile.telegram_id)
            if existing is None:
                raise
            return existing, False
        return candidate, True

    async def set_language(self, user_id: int, language: str) -> UserDTO:
        if language not in self._languages:
            raise ValidationFailed("unsupported_language", "This language is not available")
        user = await self._load(user_id)
        if user.language != language:
            user.language = language
            await self.touch(user)
        return UserDTO.from_model(user)

    async def set_time_zone(self, user_id: int, name: str) -> UserDTO:
        """The zone whose calendar days are the person's (their daily claim, a family made for them)."""
        zone = time_zone_named(name)
        user = await self._load(user_id)
        if user.time_zone != zone:
            user.time_zone = zone
            await self.touch(user)
        return UserDTO.from_model(user)

    async def update_profile(
        self,
        user_id: int,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language: str | None = None,
        time_zone: str | None = None,
    ) -> UserDTO:
        """Only the fields given change; privileged fields are not reachable from here at all."""
        user = await self._load(user_id)
        if language is not None and language not in self._languages:
            raise ValidationFailed("unsupported_language", "This language is not available")
        if time_zone is not None:
            user.time_zone = time_zone_named(time_zone)
        if username is not None:
            key = username_key(username)
            if key != user.username_key and await self._users.username_taken(key, except_user=user.id):
                raise Conflict("username_taken", "This username is already taken")
            user.username, user.username_key = username, key
        if first_name is not None:
            user.first_name = first_name
        if last_name is not None:
            user.last_name = last_name
        if language is not None:
            user.language = language
        try:
            async with self._session.begin_nested():
                await self.touch(user)
        except IntegrityError:
            raise Conflict("username_taken", "This username is already taken") from None
        return UserDTO.from_model(user)
