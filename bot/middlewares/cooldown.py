"""The cooldown guard on the bot's side: a handler flagged `flags={"cooldown": "<action>"}` runs only when the
sender's cooldown on that action has ended; otherwise the person is told, in their language, how long is left.
The check is the domain's (`CooldownService.require_free`), the same one the REST routes reach through their
services. Registered as an inner middleware on a feature router, so it runs inside the handler's unit of work."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.dispatcher.flags import get_flag
from aiogram.types import CallbackQuery, Message, TelegramObject
from aiogram.utils.i18n import gettext as _

from core.container import UnitOfWork
from core.rewards.cooldowns import CooldownActive, CooldownService
from core.rewards.service import CLAIM
from core.users.dto import UserDTO

COOLDOWN = "cooldown"


def wait_text(seconds: int) -> str:
    """How long is left, in the person's language: hours and minutes, at least one minute."""
    hours, minutes = divmod(max(1, -(-seconds // 60)), 60)
    if hours:
        return _("{hours} h {minutes} min").format(hours=hours, minutes=minutes)
    return _("{minutes} min").format(minutes=minutes)


def cooldown_text(exc: CooldownActive) -> str:
    if exc.action == CLAIM:
        return _("You have already claimed today. Next claim in {wait}.").format(wait=wait_text(exc.retry_after))
    return _("Not yet: you can do this again in {wait}.").format(wait=wait_text(exc.retry_after))


class CooldownMiddleware(BaseMiddleware):
    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        action = get_flag(data, COOLDOWN)
        user: UserDTO | None = data.get("user")
        uow: UnitOfWork | None = data.get("uow")
        if not action or user is None or uow is None:
            return await handler(event, data)
        try:
            await CooldownService(uow).require_free(user.id, str(action))
        except CooldownActive as exc:
            if isinstance(event, Message):
                await event.answer(cooldown_text(exc))
            elif isinstance(event, CallbackQuery):
                await event.answer(cooldown_text(exc), show_alert=True)
            return None
        return await handler(event, data)
