from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.access.levels import UserLevels
from storage.models.user import User


@dataclass(frozen=True, slots=True)
class TelegramProfile:
    """What a Telegram update tells about its sender; built by the bot layer from aiogram's User."""

    telegram_id: int
    first_name: str | None
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None


@dataclass(frozen=True, slots=True)
class UserDTO:
    id: int
    telegram_id: int | None
    telegram_username: str | None
    username: str | None
    email: str | None
    email_verified: bool
    has_password: bool
    first_name: str | None
    last_name: str | None
    language: str | None
    is_active: bool
    full_permissions_api: bool
    is_staff: bool
    has_beta_access: bool
    has_alpha_access: bool
    is_bot_suspected: bool
    date_joined: datetime
    last_login: datetime | None
    created_at: datetime
    updated_at: datetime
    # Not shown to anyone: what caches and token checks compare against.
    revision: int
    token_version: int
    # EVM addresses (checksummed) and when an ownership proof verified each (None: not verified).
    ethereum_address: str | None = None
    ethereum_verified_at: datetime | None = None
    base_address: str | None = None
    base_verified_at: datetime | None = None
    # IANA zone the person chose; None: the deployment's default.
    time_zone: str | None = None

    @classmethod
    def from_model(cls, user: User) -> UserDTO:
        return cls(
            id=user.id,
            telegram_id=user.telegram_id,
            telegram_username=user.telegram_username,
            username=user.username,
            email=user.email,
            email_verified=user.email_verified,
            has_password=user.password_hash is not None,
            first_name=user.first_name,
            last_name=user.last_name,
            language=user.language,
            is_active=user.is_active,
            full_permissions_api=user.full_permissions_api,
            is_staff=user.is_staff,
            has_beta_access=user.has_beta_access,
            has_alpha_access=user.has_alpha_access,
            is_bot_suspected=user.is_bot_suspected,
            date_joined=user.date_joined,
            last_login=user.last_login,
            created_at=user.created_at,
            updated_at=user.updated_at,
            revision=user.revision,
            token_version=user.token_version,
            ethereum_address=user.ethereum_address,
            ethereum_verified_at=user.ethereum_verified_at,
            base_address=user.base_address,
            base_verified_at=user.base_verified_at,
            time_zone=user.time_zone,
        )

    @property
    def ethereum_address_verified(self) -> bool:
        return self.ethereum_verified_at is not None

    @property
    def base_address_verified(self) -> bool:
        return self.base_verified_at is not None

    @property
    def levels(self) -> UserLevels:
        return UserLevels(
            full_permissions_api=self.full_permissions_api,
            is_staff=self.is_staff,
            has_beta_access=self.has_beta_access,
            has_alpha_access=self.has_alpha_access,
        )

    @property
    def display_name(self) -> str:
        parts = [part for part in (self.first_name, self.last_name) if part]
        return " ".join(parts) or self.username or self.telegram_username or f"#{self.id}"
