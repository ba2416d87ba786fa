"""The domain's notices, sent by the bot in the person's language."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from core.notify import Notice

log = logging.getLogger(__name__)


def notice_text(notice: Notice) -> str:
    if notice.key == "linked":
        return _("Your Telegram account is now linked to {account}.").format(**notice.params)
    raise KeyError(notice.key)


class BotNotifier:
    def __init__(self, bot: Bot, i18n: I18n) -> None:
        self._bot = bot
        self._i18n = i18n

    async def notify(self, notice: Notice) -> None:
        locale = notice.language if notice.language in self._i18n.available_locales else self._i18n.default_locale
        try:
            with self._i18n.context(), self._i18n.use_locale(locale):
                text = notice_text(notice)
            await self._bot.send_message(notice.chat_id, text)
        except Exception as exc:
            # The change it reports is committed; a lost notice is logged, never raised into the web request.
            log.warning("notice not delivered", extra={"key": notice.key, "error": type(exc).__name__})
