"""/language: an inline keyboard that saves the choice on the user."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InaccessibleMessage, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.keyboards.language import LANGUAGE_NAMES, LanguageChoice, language_keyboard
from core.errors import ValidationFailed
from core.services import UnitOfWork
from core.users.dto import UserDTO


def create_router() -> Router:
    router = Router(name="language")
    router.message.filter(F.chat.type == "private")
    router.message.register(ask_language, Command("language"))
    router.callback_query.register(choose_language, LanguageChoice.filter())
    return router


async def ask_language(message: Message, i18n: I18n, locale: str) -> None:
    await message.answer(
        _("Choose your language:"),
        reply_markup=language_keyboard(tuple(sorted(i18n.available_locales)), locale),
    )


async def choose_language(
    query: CallbackQuery, callback_data: LanguageChoice, uow: UnitOfWork, user: UserDTO, i18n: I18n
) -> None:
    try:
        await uow.users.set_language(user.id, callback_data.code)
    except ValidationFailed:
        await query.answer(_("This language is not available."), show_alert=True)
        return
    # The reply must already speak the new language, so switch the context before translating.
    i18n.ctx_locale.set(callback_data.code)
    text = _("Language set: {language}").format(language=LANGUAGE_NAMES.get(callback_data.code, callback_data.code))
    await query.answer(text)
    if query.message is not None and not isinstance(query.message, InaccessibleMessage):
        await query.message.edit_text(
            text, reply_markup=language_keyboard(tuple(sorted(i18n.available_locales)), callback_data.code)
        )
