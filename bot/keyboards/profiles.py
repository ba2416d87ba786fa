from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder


class ProfileDialogs(CallbackData, prefix="pdlg"):
    profile_id: int


class AddProfile(CallbackData, prefix="padd"):
    pass


def profiles_keyboard(profiles: list[tuple[int, str]]) -> InlineKeyboardMarkup:
    """A dialogs button per active profile (id, label), then the button to add one."""
    builder = InlineKeyboardBuilder()
    for profile_id, label in profiles:
        builder.button(
            text=_("Dialogs: {name}").format(name=label), callback_data=ProfileDialogs(profile_id=profile_id)
        )
    builder.button(text=_("Add a Telegram profile"), callback_data=AddProfile())
    builder.adjust(1)
    return builder.as_markup()


def add_page_keyboard(url: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("Open the page to add a profile"), url=url)
    return builder.as_markup()
