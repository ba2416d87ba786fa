"""The last line of defence: a failing handler is logged with its update id and the person gets a short apology,
never a traceback."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, Message, TelegramObject, Update
from aiogram.utils.i18n import I18n

from core.errors import Unavailable

log = logging.getLogger(__name__)


class ErrorsMiddleware(BaseMiddleware):
    def __init__(self, i18n: I18n) -> None:
        self._i18n = i18n

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        try:
            return await handler(event, data)
        except Unavailable as exc:
            # Not a bug: the database stayed busy. No traceback; the person is told to try again shortly.
            update_id = event.update_id if isinstance(event, Update) else None
            log.warning("update not handled: service busy", extra={"update_id": update_id, "code": exc.code})
            if isinstance(event, Update):
                await self._apologise(event, data, exc.message)
            return None
        except Exception:
            update_id = event.update_id if isinstance(event, Update) else None
            log.exception("update handler failed", extra={"update_id": update_id})
            if isinstance(event, Update):
                await self._apologise(event, data)
            return None

    async def _apologise(self, update: Update, data: dict[str, Any], message: str | None = None) -> None:
        bot: Bot | None = data.get("bot")
        if bot is None:
            return
        locale = data.get("locale") or self._i18n.default_locale
        text = self._i18n.gettext(message or "Sorry, something went wrong. Please try again later.", locale=locale)
        try:
            if isinstance(update.message, Message):
                await bot.send_message(update.message.chat.id, text)
            elif isinstance(update.callback_query, CallbackQuery):
                await self._answer_query(bot, update.callback_query, text)
        except Exception as exc:
            log.warning("could not tell the user about the failure", extra={"error": type(exc).__name__})

    @staticmethod
    async def _answer_query(bot: Bot, query: CallbackQuery, text: str) -> None:
        # The handler may have answered the query before it failed, and a query is answered only once: then the
        # apology goes to the chat instead.
        try:
            await bot.answer_callback_query(query.id, text=text, show_alert=True)
        except TelegramBadRequest:
            if query.message is not None:
                await bot.send_message(query.message.chat.id, text)
