"""Who is writing: the sender as a product user, created on first contact, in handler data as `user`.

This is the bot's sign-in, the counterpart of the REST access check, and like it runs before the handler's unit
of work: a read-only look-up, and a short write of its own only when the sender is new or renamed themselves in
Telegram.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject
from aiogram.types import User as TgUser

from core.container import Container
from core.users.dto import TelegramProfile
from core.users.service import UserService, matches_profile


def profile_of(tg_user: TgUser) -> TelegramProfile:
    return TelegramProfile(
        telegram_id=tg_user.id,
        first_name=tg_user.first_name,
        last_name=tg_user.last_name,
        username=tg_user.username,
        language_code=tg_user.language_code,
    )


class UserMiddleware(BaseMiddleware):
    def __init__(self, container: Container) -> None:
        self._container = container

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        tg_user: TgUser | None = data.get("event_from_user")
        if tg_user is not None and not tg_user.is_bot:
            profile = profile_of(tg_user)
            async with self._container.unit_of_work(write=False) as uow:
                user = await UserService(uow).find_telegram_user(profile.telegram_id)
            created = False
            if user is None or not matches_profile(user, profile):
                async with self._container.unit_of_work(write=True) as uow:
                    user, created = await UserService(uow).ensure_telegram_user(profile)
            data["user"] = user
            data["user_created"] = created
        return await handler(event, data)
