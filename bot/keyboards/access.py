"""The admin card's and the search list's inline buttons. Callback data carries everything a press needs (the
target's id, the value to set, the page), so a button still answers correctly after a restart or when another
admin presses it; the service checks the presser's rights again every time."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.access.service import UserPage
from core.users.dto import UserDTO

# The flags an admin may set from the card, by their short names in callback data.
CARD_FLAGS = {
    "beta": "has_beta_access",
    "alpha": "has_alpha_access",
    "staff": "is_staff",
    "full": "full_permissions_api",
    "suspect": "is_bot_suspected",
    "active": "is_active",
}
# Callback data is at most 64 bytes; a longer search has no paging buttons.
MAX_PAGED_QUERY = 32


class AdminSet(CallbackData, prefix="adm"):
    """Set one flag of a user to `value`; `confirmed` for a ban's second press."""

    flag: str
    user_id: int
    value: bool
    confirmed: bool = False


class AdminOpen(CallbackData, prefix="admo"):
    user_id: int


class AdminPage(CallbackData, prefix="admp"):
    query: str
    page: int


def pageable(query: str) -> bool:
    return len(query.encode()) <= MAX_PAGED_QUERY and ":" not in query


def card_keyboard(user: UserDTO) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    labels = {
        "beta": ("BETA", user.has_beta_access),
        "alpha": ("ALPHA", user.has_alpha_access),
        "staff": ("ADMIN", user.is_staff),
        "full": ("FULL_PERMISSIONS_API", user.full_permissions_api),
    }
    for flag, (label, held) in labels.items():
        text = (_("Revoke {level}") if held else _("Grant {level}")).format(level=label)
        builder.button(text=text, callback_data=AdminSet(flag=flag, user_id=user.id, value=not held))
    suspect = _("Clear bot suspicion") if user.is_bot_suspected else _("Mark as a suspected bot")
    builder.button(
        text=suspect, callback_data=AdminSet(flag="suspect", user_id=user.id, value=not user.is_bot_suspected)
    )
    if user.is_active:
        builder.button(text=_("Ban"), callback_data=AdminSet(flag="active", user_id=user.id, value=False))
    else:
        builder.button(text=_("Unban"), callback_data=AdminSet(flag="active", user_id=user.id, value=True))
    builder.adjust(2)
    return builder.as_markup()


def confirm_ban_keyboard(user_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("Yes, ban this user"),
        callback_data=AdminSet(flag="active", user_id=user_id, value=False, confirmed=True),
    )
    builder.button(text=_("Cancel"), callback_data=AdminOpen(user_id=user_id))
    builder.adjust(1)
    return builder.as_markup()


def results_keyboard(page: UserPage, query: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for user in page.users:
        builder.button(text=f"#{user.id} {user.display_name}"[:60], callback_data=AdminOpen(user_id=user.id))
    paging = []
    if pageable(query):
        if page.page > 1:
            paging.append(("«", page.page - 1))
        if page.has_more:
            paging.append(("»", page.page + 1))
    for text, number in paging:
        builder.button(text=text, callback_data=AdminPage(query=query, page=number))
    builder.adjust(*([1] * len(page.users)), max(1, len(paging)))
    return builder.as_markup()
