"""Loads the sender as a product user, creating one on first contact, and puts it in handler data as `user`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject
from aiogram.types import User as TgUser

from core.services import UnitOfWork
from core.users.dto import TelegramProfile


def profile_of(tg_user: TgUser) -> TelegramProfile:
    return TelegramProfile(
        telegram_id=tg_user.id,
        first_name=tg_user.first_name,
        last_name=tg_user.last_name,
        username=tg_user.username,
        language_code=tg_user.language_code,
    )


class UserMiddleware(BaseMiddleware):
    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        tg_user: TgUser | None = data.get("event_from_user")
        uow: UnitOfWork = data["uow"]
        if tg_user is not None and not tg_user.is_bot:
            user, created = await uow.users.ensure_telegram_user(profile_of(tg_user))
            data["user"] = user
            data["user_created"] = created
        return await handler(event, data)
