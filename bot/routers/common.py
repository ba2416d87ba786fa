"""/start and /help."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from bot.commands import command_list
from bot.routers.finance import join_on_start
from bot.routers.identity import link_on_start
from core.container import UnitOfWork
from core.deeplinks import DeepLink, parse_start_payload
from core.identity.service import IdentityService
from core.users.dto import UserDTO


def create_router() -> Router:
    router = Router(name="common")
    # Commands here are for people in private chats; groups get nothing rather than noise.
    router.message.filter(F.chat.type == "private")
    # A start link may link accounts or record a referrer.
    router.message.register(start, CommandStart(), flags={"writes": True})
    router.message.register(help_command, Command("help"))
    return router


async def start(message: Message, command: CommandObject, user: UserDTO, user_created: bool, uow: UnitOfWork) -> None:
    link: DeepLink | None = parse_start_payload(command.args)
    if link is not None and link.kind == "link":
        # The linking outcome is the whole answer: a welcome to the bare account it may retire would mislead.
        await link_on_start(message, link.value, uow)
        return
    if link is not None and link.kind == "join":
        await join_on_start(message, link.value, user, uow)
        return
    invited = False
    if link is not None and link.kind == "ref" and user_created and command.args:
        # Only an account this very update created may get a referrer; the service refuses oneself and cycles.
        invited = await IdentityService(uow).apply_referral(user.id, command.args) is not None
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
