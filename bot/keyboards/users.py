from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

# Each language is named in itself, so a person who cannot read the current language still finds theirs.
LANGUAGE_NAMES = {"en": "English", "ru": "Русский"}


class LanguageChoice(CallbackData, prefix="lang"):
    code: str


def language_keyboard(locales: tuple[str, ...], current: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for code in locales:
        mark = "✓ " if code == current else ""
        builder.button(text=f"{mark}{LANGUAGE_NAMES.get(code, code)}", callback_data=LanguageChoice(code=code))
    builder.adjust(2)
    return builder.as_markup()
