"""Admin tools in the bot (admins only: the `access` handler flag, and the service checks the presser again):
/admin (counts), /user <id|@username|email|name> (a card with buttons, or a paged list of matches), and /whoami, the
account's id and levels (a beta feature by default)."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InaccessibleMessage, InlineKeyboardMarkup, Message, Update
from aiogram.utils.i18n import gettext as _

from bot.keyboards.access import (
    CARD_FLAGS,
    AdminOpen,
    AdminPage,
    AdminSet,
    card_keyboard,
    confirm_ban_keyboard,
    results_keyboard,
)
from bot.middlewares.access import refusal_text
from core.access.policy import ADMIN
from core.access.service import AccessService, Actor, UserChanges, UserFilter
from core.container import UnitOfWork
from core.errors import DomainError, Forbidden, NotFound
from core.users.dto import UserDTO

ADMIN_ONLY = {"access": ADMIN}
ADMIN_WRITES = {"access": ADMIN, "writes": True}
PAGE_SIZE = 8


def create_router() -> Router:
    router = Router(name="access")
    router.message.filter(F.chat.type == "private")
    router.message.register(admin_summary, Command("admin"), flags=ADMIN_ONLY)
    router.message.register(find_user, Command("user"), flags=ADMIN_ONLY)
    router.message.register(whoami, Command("whoami"), flags={"access": "whoami"})
    router.callback_query.register(set_flag, AdminSet.filter(), flags=ADMIN_WRITES)
    router.callback_query.register(open_card, AdminOpen.filter(), flags=ADMIN_ONLY)
    router.callback_query.register(turn_page, AdminPage.filter(), flags=ADMIN_ONLY)
    return router


def actor(user: UserDTO, update: Update) -> Actor:
    return Actor(user.id, "bot", str(update.update_id))


def yes_no(value: bool) -> str:
    return _("yes") if value else _("no")


def card_text(user: UserDTO) -> str:
    levels = [
        name
        for name, held in (
            ("FULL_PERMISSIONS_API", user.full_permissions_api),
            ("ADMIN", user.is_staff),
            ("BETA", user.has_beta_access),
            ("ALPHA", user.has_alpha_access),
        )
        if held
    ]
    lines = [
        _("User #{id}: {name}").format(id=user.id, name=user.display_name),
        _("Telegram: {telegram}").format(telegram=f"{user.telegram_id or '—'} @{user.telegram_username or '—'}"),
        _("Email: {email}").format(email=user.email or "—"),
        _("Levels: {levels}").format(levels=", ".join(levels) or "—"),
        _("Active: {value}").format(value=yes_no(user.is_active)),
        _("Suspected bot: {value}").format(value=yes_no(user.is_bot_suspected)),
        _("Joined: {date}").format(date=user.date_joined.strftime("%Y-%m-%d %H:%M UTC")),
    ]
    return "\n".join(lines)


def error_text(error: DomainError) -> str:
    if isinstance(error, NotFound):
        return _("User not found.")
    if isinstance(error, Forbidden) and error.code == "own_access":
        return _("Admins cannot change their own access.")
    if isinstance(error, Forbidden):
        return refusal_text(error)
    return _("This cannot be done.")


async def admin_summary(message: Message, uow: UnitOfWork, user: UserDTO, event_update: Update) -> None:
    stats = await AccessService(uow).stats(actor(user, event_update))
    await message.answer(
        "\n".join(
            [
                _("Administration"),
                _("Users in total: {count}").format(count=stats.users_total),
                _("New today: {count}").format(count=stats.new_today),
                _("Active sessions: {count}").format(count=stats.active_sessions),
                "",
                _("Find a user: /user <id|@username|email|name>"),
            ]
        )
    )


async def find_user(
    message: Message, command: CommandObject, uow: UnitOfWork, user: UserDTO, event_update: Update
) -> None:
    query = (command.args or "").strip()[:128]
    if not query:
        await message.answer(_("Send /user followed by an id, @username, email or name."))
        return
    service = AccessService(uow)
    who = actor(user, event_update)
    try:
        found = await service.find_user(who, query)
    except NotFound:
        await show_results(message, service, who, query, 1)
        return
    await message.answer(card_text(found), reply_markup=card_keyboard(found))


async def show_results(message: Message, service: AccessService, who: Actor, query: str, page: int) -> None:
    results = await service.list_users(who, UserFilter(search=query, sort="id", page=page, page_size=PAGE_SIZE))
    if not results.users:
        await message.answer(_("No user matches “{query}”.").format(query=query))
        return
    await message.answer(
        _("Users matching “{query}”, page {page}:").format(query=query, page=page),
        reply_markup=results_keyboard(results, query),
    )


async def whoami(message: Message, user: UserDTO) -> None:
    await message.answer(
        "\n".join(
            [
                _("Your account: #{id}").format(id=user.id),
                _("Levels: {levels}").format(
                    levels=", ".join(level.display for level in sorted(user.levels.held)) or "—"
                ),
                _("Suspected bot: {value}").format(value=yes_no(user.is_bot_suspected)),
            ]
        )
    )


async def _edit(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None) -> None:
    if query.message is None or isinstance(query.message, InaccessibleMessage):
        return
    try:
        await query.message.edit_text(text, reply_markup=markup)
    except TelegramBadRequest as exc:
        if "message is not modified" not in exc.message:
            raise


async def set_flag(
    query: CallbackQuery, callback_data: AdminSet, uow: UnitOfWork, user: UserDTO, event_update: Update
) -> None:
    field = CARD_FLAGS.get(callback_data.flag)
    if field is None:
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    if field == "is_active" and callback_data.value is False and not callback_data.confirmed:
        # Destructive: ask first. Nothing is written by this press.
        await _edit(
            query,
            _("Ban user #{id}? Their sessions end at once.").format(id=callback_data.user_id),
            confirm_ban_keyboard(callback_data.user_id),
        )
        await query.answer()
        return
    try:
        changed = await AccessService(uow).update_user(
            actor(user, event_update), callback_data.user_id, UserChanges(**{field: callback_data.value})
        )
    except DomainError as error:
        await query.answer(error_text(error), show_alert=True)
        return
    await _edit(query, card_text(changed), card_keyboard(changed))
    await query.answer(_("Saved."))


async def open_card(
    query: CallbackQuery, callback_data: AdminOpen, uow: UnitOfWork, user: UserDTO, event_update: Update
) -> None:
    try:
        found = await AccessService(uow).get_user(actor(user, event_update), callback_data.user_id)
    except DomainError as error:
        await query.answer(error_text(error), show_alert=True)
        return
    await _edit(query, card_text(found), card_keyboard(found))
    await query.answer()


async def turn_page(
    query: CallbackQuery, callback_data: AdminPage, uow: UnitOfWork, user: UserDTO, event_update: Update
) -> None:
    try:
        results = await AccessService(uow).list_users(
            actor(user, event_update),
            UserFilter(search=callback_data.query, sort="id", page=callback_data.page, page_size=PAGE_SIZE),
        )
    except DomainError as error:
        await query.answer(error_text(error), show_alert=True)
        return
    text = _("Users matching “{query}”, page {page}:").format(query=callback_data.query, page=callback_data.page)
    await _edit(query, text, results_keyboard(results, callback_data.query))
    await query.answer()
