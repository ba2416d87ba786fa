"""The command menu, translated per language and set at start."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.types import BotCommand, BotCommandScopeChat
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

log = logging.getLogger(__name__)


def command_list() -> list[tuple[str, str]]:
    """(command, description) in the current context's language."""
    return [
        ("start", _("Start or restart the bot")),
        ("help", _("What this bot can do")),
        ("register", _("Create your account or check that you have one")),
        ("link", _("Link an email account")),
        ("profile", _("Your account, sign-in methods and invitations")),
        ("language", _("Change the language")),
        ("timezone", _("Your time zone (when your day starts)")),
        ("month", _("This month's spending and income, with charts")),
        ("today", _("Today's entries")),
        ("undo", _("Undo your last entry")),
        ("accounts", _("Accounts and balances")),
        ("categories", _("Categories")),
        ("rate", _("Exchange rates: list them or set one")),
        ("family", _("Family members, invite link, switch family")),
        ("export", _("Export entries as CSV")),
        ("claim", _("Claim today's reward")),
        ("balance", _("Your points and their history")),
        ("wallet", _("Your EVM addresses")),
        ("profiles", _("Your linked Telegram accounts")),
    ]


async def set_commands(bot: Bot, i18n: I18n) -> None:
    """Optional: a failure is a warning, never a reason not to start."""
    for locale in sorted(i18n.available_locales):
        # Outside an update there is no i18n context; make one for the lazy `_` calls in command_list.
        with i18n.context(), i18n.use_locale(locale):
            commands = [BotCommand(command=name, description=text) for name, text in command_list()]
        language = None if locale == i18n.default_locale else locale
        try:
            await bot.set_my_commands(commands, language_code=language)
        except Exception as exc:
            log.warning("setMyCommands failed", extra={"locale": locale, "error": repr(exc)})


async def set_chat_commands(bot: Bot, i18n: I18n, *, chat_id: int, locale: str) -> None:
    """The command menu of one chat in the language its person chose (the global menu follows Telegram's app
    language, which may differ)."""
    with i18n.use_locale(locale):
        commands = [BotCommand(command=name, description=text) for name, text in command_list()]
    try:
        await bot.set_my_commands(commands, scope=BotCommandScopeChat(chat_id=chat_id))
    except Exception as exc:
        log.warning("setMyCommands for a chat failed", extra={"error": type(exc).__name__})
