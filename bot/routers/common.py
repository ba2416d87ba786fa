"""/start and /help."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.commands import command_list
from bot.routers.account import link_on_start
from core.deeplinks import DeepLink, parse_start_payload
from core.services import ServiceFactory, UnitOfWork
from core.users.dto import UserDTO


def create_router() -> Router:
    router = Router(name="common")
    # Commands here are for people in private chats; groups get nothing rather than noise.
    router.message.filter(F.chat.type == "private")
    router.message.register(start, CommandStart())
    router.message.register(help_command, Command("help"))
    return router


async def start(
    message: Message,
    command: CommandObject,
    user: UserDTO,
    user_created: bool,
    uow: UnitOfWork,
    services: ServiceFactory,
    i18n: I18n,
    locale: str,
) -> None:
    link: DeepLink | None = parse_start_payload(command.args)
    if link is not None and link.kind == "link":
        # The linking outcome is the whole answer: a welcome to the bare account it may retire would mislead.
        # It runs after this update's transaction commits; bot/routers/account.py explains why.
        link_on_start(message, link.value, uow=uow, services=services, i18n=i18n, locale=locale)
        return
    invited = False
    if link is not None and link.kind == "ref" and user_created and command.args:
        # Only an account this very update created may get a referrer; the service refuses oneself and never overwrites.
        invited = await services.identity.apply_referral(uow, user.id, command.args) is not None
    name = user.first_name or user.username or ""
    if user_created:
        text = _("Welcome, {name}! Your account is ready.").format(name=name)
    else:
        text = _("Welcome back, {name}!").format(name=name)
    lines = [text]
    if invited:
        lines.append(_("You joined through an invitation."))
    lines += ["", _("Send /help to see what I can do.")]
    if command.args and link is None:
        lines.append(_("That start link is not valid; it was ignored."))
    await message.answer("\n".join(lines))


async def help_command(message: Message) -> None:
    lines = [_("Here is what I can do:"), ""]
    lines += [f"/{name} — {description}" for name, description in command_list()]
    await message.answer("\n".join(lines))
