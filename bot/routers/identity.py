"""/register, /link, /profile, the "link an email account" button, and `/start link_<code>`'s outcome."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.keyboards.identity import LINK_EMAIL, AccountAction, link_page_keyboard, register_keyboard
from bot.keyboards.users import LANGUAGE_NAMES
from bot.middlewares.user import profile_of
from core.container import UnitOfWork
from core.errors import Conflict, NotFound, ValidationFailed
from core.identity.service import IdentityService
from core.users.dto import UserDTO

WRITES = {"writes": True}


def create_router() -> Router:
    router = Router(name="identity")
    router.message.filter(F.chat.type == "private")
    router.message.register(register, Command("register"))
    router.message.register(link, Command("link"), flags=WRITES)
    router.message.register(profile, Command("profile"))
    router.callback_query.register(link_from_button, AccountAction.filter(F.action == LINK_EMAIL), flags=WRITES)
    return router


async def register(message: Message, user: UserDTO, user_created: bool, mini_app_url: str | None = None) -> None:
    # The middleware already found or created the account; registering is only telling the person where they are.
    if user_created:
        lines = [_("Your account has been created. Telegram is your way to sign in; no password is needed.")]
    else:
        lines = [_("You already have an account: it was created when you first wrote to me.")]
    lines.append("")
    if mini_app_url:
        lines.append(_("Open the Mini App with the button below."))
    if user.email:
        lines.append(
            _("Your email {email} is linked, so you can sign in on the web with it too.").format(email=user.email)
        )
    else:
        lines.append(_("To sign in on the web as well, link an email account: press the button below or send /link."))
    lines.append(_("Send /profile to see your account."))
    await message.answer(
        "\n".join(lines),
        reply_markup=register_keyboard(mini_app_url=mini_app_url, offer_linking=user.email is None),
    )


async def link_page_text(uow: UnitOfWork, user: UserDTO, telegram_id: int, locale: str) -> tuple[str, str | None]:
    """The answer to /link and its button: the one-time page, or why there is none."""
    identity = IdentityService(uow)
    try:
        issued = await identity.issue_code_for_telegram(telegram_id)
    except Conflict:
        return _("Your Telegram account is already linked to {email}.").format(email=user.email or ""), None
    url = identity.link_page_url(issued.code, language=locale)
    if url is None:
        return _("Linking is not available right now. Please try again later."), None
    text = _(
        "Open this page and sign in with your email and password to link your accounts. "
        "The link works for {minutes} minutes, once."
    ).format(minutes=max(1, issued.expires_in // 60))
    # The address is in the text too, for clients that show no buttons and for copying to another device.
    return f"{text}\n\n{url}", url


async def link(message: Message, user: UserDTO, uow: UnitOfWork, locale: str) -> None:
    text, url = await link_page_text(uow, user, user.telegram_id or message.chat.id, locale)
    await message.answer(text, reply_markup=link_page_keyboard(url) if url else None)


async def link_from_button(query: CallbackQuery, user: UserDTO, uow: UnitOfWork, locale: str) -> None:
    # In a private chat the chat id is the user's id, and this button is only ever sent in private chats.
    text, url = await link_page_text(uow, user, user.telegram_id or query.from_user.id, locale)
    await query.answer()
    if query.bot is not None:
        await query.bot.send_message(query.from_user.id, text, reply_markup=link_page_keyboard(url) if url else None)


async def link_on_start(message: Message, code: str, uow: UnitOfWork) -> None:
    """`/start link_<code>`: link this Telegram account into the account that asked for the link."""
    sender = message.from_user
    if sender is None:
        return
    dead_link = _("This link is invalid, already used or expired. Ask for a new one where you got it.")
    try:
        linked = await IdentityService(uow).link_from_start(code=code, profile=profile_of(sender))
    except (ValidationFailed, NotFound):
        # A dead code, or the account that asked for the link is gone or disabled: for the person, a dead link.
        text = dead_link
    except Conflict as exc:
        if exc.code == "already_linked":
            text = _("That account is already linked to another Telegram account.")
        elif exc.code == "finance.link_conflict":
            text = _("Both accounts are members of the same family. Leave it with one of them, then link again.")
        else:
            text = _("This Telegram account already belongs to another account. Unlink it there first.")
    else:
        text = _("Your Telegram account is now linked to {email}.").format(email=linked.email or linked.display_name)
    await message.answer(text)


async def profile(message: Message, user: UserDTO, uow: UnitOfWork, locale: str) -> None:
    identity = IdentityService(uow)
    methods = await identity.methods(user.id)
    referral = await identity.referral_info(user.id)
    lines = [_("Your profile"), ""]
    if methods.telegram_username:
        lines.append(_("Telegram account: ✓ @{username}").format(username=methods.telegram_username))
    elif methods.telegram_id is not None:
        lines.append(_("Telegram account: ✓ ID {telegram_id}").format(telegram_id=methods.telegram_id))
    else:
        lines.append(_("Telegram account: not linked"))
    if methods.email:
        lines.append(_("Email: ✓ {email}").format(email=methods.email))
    else:
        lines.append(_("Email: not linked"))
    lines.append("")
    if referral.link:
        lines.append(_("Your referral link: {link}").format(link=referral.link))
    else:
        lines.append(_("Your referral code: {code}").format(code=referral.code))
    lines.append(_("People you invited: {count}").format(count=referral.count))
    lines.append(_("Language: {language}").format(language=LANGUAGE_NAMES.get(locale, locale)))
    await message.answer("\n".join(lines))
