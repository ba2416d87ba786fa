"""Chooses the language: the saved choice, else Telegram's language_code, else the default."""

from __future__ import annotations

from typing import Any

from aiogram.types import TelegramObject
from aiogram.types import User as TgUser
from aiogram.utils.i18n import I18n, I18nMiddleware

from core.users.dto import UserDTO


def pick_locale(i18n: I18n, saved: str | None, telegram_code: str | None) -> str:
    if saved in i18n.available_locales:
        return saved
    if telegram_code:
        # Telegram sends IETF tags such as "pt-br"; the primary subtag is what catalogs are named after.
        primary = telegram_code.split("-", 1)[0].lower()
        if primary in i18n.available_locales:
            return primary
    return i18n.default_locale


class UserLocaleMiddleware(I18nMiddleware):
    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        user: UserDTO | None = data.get("user")
        tg_user: TgUser | None = data.get("event_from_user")
        locale = pick_locale(self.i18n, user.language if user else None, tg_user.language_code if tg_user else None)
        data["locale"] = locale
        return locale
