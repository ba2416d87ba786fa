"""/language: an inline keyboard that saves the choice on the user and sets the chat's command menu to it.
/timezone: the zone whose calendar days are the person's (their daily claim, a family made for them)."""

from __future__ import annotations

import logging

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InaccessibleMessage, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.commands import set_chat_commands
from bot.keyboards.users import LANGUAGE_NAMES, LanguageChoice, language_keyboard
from core.container import UnitOfWork
from core.errors import ValidationFailed
from core.users.dto import UserDTO
from core.users.service import UserService

log = logging.getLogger(__name__)


def create_router() -> Router:
    router = Router(name="users")
    router.message.filter(F.chat.type == "private")
    router.message.register(ask_language, Command("language"))
    router.callback_query.register(choose_language, LanguageChoice.filter(), flags={"writes": True})
    router.message.register(set_time_zone, Command("timezone", magic=F.args), flags={"writes": True})
    router.message.register(show_time_zone, Command("timezone"))
    return router


async def show_time_zone(message: Message, user: UserDTO) -> None:
    if user.time_zone:
        text = _("Your time zone: {zone}.").format(zone=user.time_zone)
    else:
        text = _("You have not chosen a time zone yet.")
    hint = _("To change it, send /timezone and the zone's name, for example /timezone Europe/Moscow.")
    await message.answer(f"{text}\n{hint}")


async def set_time_zone(message: Message, command: CommandObject, uow: UnitOfWork, user: UserDTO) -> None:
    try:
        updated = await UserService(uow).set_time_zone(user.id, command.args or "")
    except ValidationFailed:
        await message.answer(
            _("I do not know this time zone. Send its IANA name, for example /timezone Europe/Moscow or /timezone UTC.")
        )
        return
    text = _("Time zone set: {zone}. Your days now start at midnight there.")
    await message.answer(text.format(zone=updated.time_zone))


async def ask_language(message: Message, i18n: I18n, locale: str) -> None:
    await message.answer(
        _("Choose your language:"),
        reply_markup=language_keyboard(tuple(sorted(i18n.available_locales)), locale),
    )


async def choose_language(
    query: CallbackQuery, callback_data: LanguageChoice, uow: UnitOfWork, user: UserDTO, i18n: I18n, bot: Bot
) -> None:
    code = callback_data.code
    try:
        await UserService(uow).set_language(user.id, code)
    except ValidationFailed:
        await query.answer(_("This language is not available."), show_alert=True)
        return
    # The reply must already speak the new language, so switch the context before translating.
    i18n.ctx_locale.set(code)
    text = _("Language set: {language}").format(language=LANGUAGE_NAMES.get(code, code))
    await query.answer(text)
    if query.message is not None and not isinstance(query.message, InaccessibleMessage):
        try:
            await query.message.edit_text(
                text, reply_markup=language_keyboard(tuple(sorted(i18n.available_locales)), code)
            )
        except TelegramBadRequest as exc:
            # Choosing the language one already has leaves the message as it was: that is success.
            if "message is not modified" not in exc.message:
                raise
    await set_chat_commands(bot, i18n, chat_id=query.from_user.id, locale=code)
