"""Inline buttons of the finance feature. Callback data carries only ids: the draft lives in the key-value store."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.finance.dto import AccountDTO, CategoryDTO, FamilyDTO

SAVE, CATEGORIES, ACCOUNTS, CANCEL, SET_CATEGORY, SET_ACCOUNT, BACK = (
    "save",
    "cats",
    "accs",
    "cancel",
    "setcat",
    "setacc",
    "back",
)
INVITE, SWITCH = "invite", "switch"


class DraftAction(CallbackData, prefix="fd"):
    action: str
    draft: str
    item: int = 0


class FamilyAction(CallbackData, prefix="ff"):
    action: str
    family: int = 0


def draft_keyboard(draft_id: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("✅ Save"), callback_data=DraftAction(action=SAVE, draft=draft_id))
    builder.button(text=_("Category"), callback_data=DraftAction(action=CATEGORIES, draft=draft_id))
    builder.button(text=_("Account"), callback_data=DraftAction(action=ACCOUNTS, draft=draft_id))
    builder.button(text=_("Cancel"), callback_data=DraftAction(action=CANCEL, draft=draft_id))
    builder.adjust(1, 3)
    return builder.as_markup()


def category_keyboard(draft_id: str, categories: Sequence[CategoryDTO]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for category in categories:
        builder.button(
            text=category.label, callback_data=DraftAction(action=SET_CATEGORY, draft=draft_id, item=category.id)
        )
    builder.button(text=_("Back"), callback_data=DraftAction(action=BACK, draft=draft_id))
    builder.adjust(2)
    return builder.as_markup()


def account_keyboard(draft_id: str, accounts: Sequence[AccountDTO]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for account in accounts:
        builder.button(
            text=account.name, callback_data=DraftAction(action=SET_ACCOUNT, draft=draft_id, item=account.id)
        )
    builder.button(text=_("Back"), callback_data=DraftAction(action=BACK, draft=draft_id))
    builder.adjust(2)
    return builder.as_markup()


def family_keyboard(families: Sequence[FamilyDTO], *, may_invite: bool) -> InlineKeyboardMarkup | None:
    builder = InlineKeyboardBuilder()
    if may_invite:
        builder.button(text=_("Invite link"), callback_data=FamilyAction(action=INVITE))
    for family in families:
        if not family.active:
            builder.button(
                text=_("Switch to {name}").format(name=family.name),
                callback_data=FamilyAction(action=SWITCH, family=family.id),
            )
    builder.adjust(1)
    markup = builder.as_markup()
    return markup if markup.inline_keyboard else None
