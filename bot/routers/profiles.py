"""/profiles: the person's linked Telegram profiles with unread counts, a button per profile opening its dialogs
(unread ones first), and a button to add one.

Adding a profile never asks for the login code in this chat: Telegram invalidates a login code that is sent in any
chat. The bot sends a link to the web server's small form page instead (phone, code, cloud password), carrying a
one-time code in the address's fragment (never sent to a server by browsers), which the page exchanges for an access
token on its first load; the link in the chat is dead after that.

The listing and the dialogs speak to Telegram: they use the profile flows, which read and write in units of work of
their own around the call, and never touch the update's unit of work, so no transaction stays open during a call.
"""

from __future__ import annotations

import logging

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.keyboards.profiles import AddProfile, ProfileDialogs, add_page_keyboard, profiles_keyboard
from core.container import Container, UnitOfWork
from core.errors import DomainError
from core.profiles import flows
from core.profiles.service import ProfileDTO, ProfilesConfig, ProfilesService
from core.users.dto import UserDTO

log = logging.getLogger(__name__)
DIALOGS_SHOWN = 10
ADD_PAGE_PATH = "/profiles/add"


def create_router() -> Router:
    router = Router(name="profiles")
    router.message.filter(F.chat.type == "private")
    router.message.register(show_profiles, Command("profiles"))
    router.callback_query.register(show_dialogs, ProfileDialogs.filter())
    router.callback_query.register(add_profile, AddProfile.filter())
    return router


def _enabled(container: Container) -> bool:
    config = container.config(ProfilesConfig)
    return config.port is not None and config.keyring is not None


def _label(profile: ProfileDTO) -> str:
    name = " ".join(part for part in (profile.first_name, profile.last_name) if part)
    return f"{name or profile.username or profile.telegram_id} ({profile.phone})"


def _line(profile: ProfileDTO) -> str:
    if profile.state != "active":
        return _("{profile}: signed out; add it again").format(profile=_label(profile))
    if profile.unread_total is None:
        return _("{profile}: unread count unknown right now").format(profile=_label(profile))
    return _("{profile}: {count} unread").format(profile=_label(profile), count=profile.unread_total)


async def show_profiles(message: Message, user: UserDTO, container: Container) -> None:
    if not _enabled(container):
        await message.answer(_("Telegram profiles are not available on this server."))
        return
    profiles = await flows.list_profiles(container, user.id)
    if profiles:
        text = "\n".join([_("Your Telegram profiles:"), *(_line(p) for p in profiles)])
    else:
        text = _("You have no Telegram profiles yet.")
    buttons = [(p.id, _label(p)) for p in profiles if p.state == "active"]
    await message.answer(text, reply_markup=profiles_keyboard(buttons))


async def show_dialogs(
    query: CallbackQuery, callback_data: ProfileDialogs, user: UserDTO, container: Container
) -> None:
    await query.answer()
    try:
        page = await flows.dialogs_of(container, user.id, callback_data.profile_id, offset=0, limit=DIALOGS_SHOWN)
    except DomainError as exc:
        if exc.code in ("profile_revoked", "profile_session_revoked"):
            text = _("This profile is signed out. Add it again with /profiles.")
        elif exc.code == "profile_not_found":
            text = _("This profile no longer exists.")
        else:
            text = _("Telegram could not be asked right now. Try again later.")
        await _reply(query, text)
        return
    if not page.dialogs:
        await _reply(query, _("This profile has no dialogs."))
        return
    lines = [_("Dialogs, unread first:")]
    for dialog in page.dialogs:
        if dialog.unread_count:
            lines.append(_("{title}: {count} unread").format(title=dialog.title, count=dialog.unread_count))
        else:
            lines.append(dialog.title)
    await _reply(query, "\n".join(lines))


async def add_profile(query: CallbackQuery, user: UserDTO, uow: UnitOfWork, container: Container) -> None:
    await query.answer()
    base = container.links.public_base_url
    if not _enabled(container) or not base:
        await _reply(query, _("Telegram profiles are not available on this server."))
        return
    code, seconds = await ProfilesService(uow).issue_page_code(user.id)
    url = f"{base.rstrip('/')}{ADD_PAGE_PATH}#code={code}"
    text = _(
        "Open the page below to add a Telegram profile: enter its phone number, then the code Telegram sends to "
        "that account, then its cloud password if it has one. Never send the login code in a chat, this one "
        "included: Telegram invalidates a login code that is sent in any chat. "
        "The link works once, for {minutes} minutes."
    ).format(minutes=max(1, seconds // 60))
    await _reply(query, text, url)


async def _reply(query: CallbackQuery, text: str, url: str | None = None) -> None:
    if query.bot is not None:
        markup = add_page_keyboard(url) if url else None
        await query.bot.send_message(query.from_user.id, text, reply_markup=markup)
