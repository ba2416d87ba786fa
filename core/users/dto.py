from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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
    username: str | None
    first_name: str | None
    last_name: str | None
    language: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, user: User) -> UserDTO:
        return cls(
            id=user.id,
            telegram_id=user.telegram_id,
            username=user.username,
            first_name=user.first_name,
            last_name=user.last_name,
            language=user.language,
            created_at=user.created_at,
            updated_at=user.updated_at,
        )

    @property
    def display_name(self) -> str:
        parts = [part for part in (self.first_name, self.last_name) if part]
        return " ".join(parts) or self.username or f"#{self.id}"
