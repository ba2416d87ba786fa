"""The access rule on the bot's side: the same domain function the REST routes call, answered in the person's
language. Runs on every update that has a sender, after the sender and the language are known."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.types import CallbackQuery, Message, TelegramObject, Update
from aiogram.utils.i18n import gettext as _

from core.access import policy
from core.errors import Forbidden
from core.users.dto import UserDTO

log = logging.getLogger(__name__)


def refusal_text(refused: Forbidden) -> str:
    """The refusal in the person's language; every code the policy can give has its text here."""
    texts = {
        policy.ACCOUNT_DISABLED: _("Your account is disabled. If you think this is a mistake, contact the support.")
    }
    return texts[refused.code]


class AccessMiddleware(BaseMiddleware):
    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user: UserDTO | None = data.get("user")
        if user is None:
            return await handler(event, data)
        refused = policy.refusal(user)
        if refused is None:
            return await handler(event, data)
        log.info("update refused", extra={"user_id": user.id, "reason": refused.code})
        if isinstance(event, Update):
            await _tell(event, data.get("bot"), refusal_text(refused))
        return None


async def _tell(update: Update, bot: Bot | None, text: str) -> None:
    if bot is None:
        return
    if isinstance(update.message, Message):
        await bot.send_message(update.message.chat.id, text)
    elif isinstance(update.callback_query, CallbackQuery):
        await bot.answer_callback_query(update.callback_query.id, text=text, show_alert=True)
