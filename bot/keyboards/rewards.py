from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder


class OlderEntries(CallbackData, prefix="bal"):
    # The `next_before` of the page shown: the next page starts below this entry.
    before: int


def older_keyboard(before: int | None) -> InlineKeyboardMarkup | None:
    if before is None:
        return None
    builder = InlineKeyboardBuilder()
    builder.button(text=_("Older entries"), callback_data=OlderEntries(before=before))
    return builder.as_markup()
