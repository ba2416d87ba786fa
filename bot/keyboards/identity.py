from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup, WebAppInfo
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder


class AccountAction(CallbackData, prefix="account"):
    action: str


LINK_EMAIL = "link"


def register_keyboard(*, mini_app_url: str | None, offer_linking: bool) -> InlineKeyboardMarkup | None:
    if not mini_app_url and not offer_linking:
        # Telegram refuses an inline keyboard without buttons, so "nothing to offer" must be no keyboard at all.
        return None
    builder = InlineKeyboardBuilder()
    if mini_app_url:
        builder.button(text=_("Open the Mini App"), web_app=WebAppInfo(url=mini_app_url))
    if offer_linking:
        builder.button(text=_("Link an email account"), callback_data=AccountAction(action=LINK_EMAIL))
    builder.adjust(1)
    return builder.as_markup()


def link_page_keyboard(url: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("Open the linking page"), url=url)
    return builder.as_markup()
