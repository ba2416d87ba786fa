"""/register, /link, /profile, the "link an email account" button, and the outcome of `/start link_<code>`.

Several identity services (issuing a binding code, linking, the read-only look-ups) open units of work of their
own, while every handler runs inside the update's unit of work, which the middleware commits only after the
handler returned. Calling such a service from the handler body would go wrong in three ways:

- SQLite: the update's transaction began with BEGIN IMMEDIATE and holds the write lock, so a second write
  transaction waits for a lock its own caller keeps until it finishes: a deadlock that ends only in "database is
  locked" after the busy timeout. PostgreSQL hangs the same way on a row lock whenever the user row was touched.
- Linking may retire the bare user the middleware just created or loaded (its row is deleted and its Telegram
  identity moves to the email account); the outer session must not write that user afterwards.
- A read-only unit of work sees only committed rows, so a user created by this very update is not found yet.

So these calls are queued with `UnitOfWork.after_commit` and run once the update's transaction has committed
and released its connection, still inside the update (the in-flight count, the dedup claim and the error
middleware cover them), and they send the reply themselves. Nothing runs if the commit fails. Work that fits in
the update's own transaction (the referral in /start) stays in it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.keyboards.account import LINK_EMAIL, AccountAction, link_page_keyboard, register_keyboard
from bot.keyboards.language import LANGUAGE_NAMES
from bot.middlewares.user import profile_of
from core.errors import Conflict, NotFound, ValidationFailed
from core.services import ServiceFactory, UnitOfWork
from core.users.dto import UserDTO


def create_router() -> Router:
    router = Router(name="account")
    router.message.filter(F.chat.type == "private")
    router.message.register(register, Command("register"))
    router.message.register(link, Command("link"))
    router.message.register(profile, Command("profile"))
    router.callback_query.register(link_from_button, AccountAction.filter(F.action == LINK_EMAIL))
    return router


def run_after_commit(uow: UnitOfWork, i18n: I18n, locale: str, work: Callable[[], Awaitable[None]]) -> None:
    """Run `work` once the update's transaction has committed (see the module docstring for why)."""

    async def run() -> None:
        # The locale middleware's context is gone by the time the commit is done; the reply still needs it.
        with i18n.context(), i18n.use_locale(locale):
            await work()

    uow.after_commit(run())


# --- /register ------------------------------------------------------------------------------------------------


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


# --- /link and its button -------------------------------------------------------------------------------------


def already_linked_text(email: str) -> str:
    return _("Your Telegram account is already linked to {email}.").format(email=email)


async def send_link_page(bot: Bot, chat_id: int, telegram_id: int, services: ServiceFactory) -> None:
    issued = await services.identity.issue_code_for_telegram(telegram_id)
    url = services.identity.link_page_url(issued.code)
    if url is None:
        await bot.send_message(chat_id, _("Linking is not available right now. Please try again later."))
        return
    text = _(
        "Open this page and sign in with your email and password to link your accounts. "
        "The link works for {minutes} minutes, once."
    ).format(minutes=max(1, issued.expires_in // 60))
    # The address is in the text too, for clients that show no buttons and for copying to another device.
    await bot.send_message(chat_id, f"{text}\n\n{url}", reply_markup=link_page_keyboard(url))


async def link(
    message: Message, bot: Bot, user: UserDTO, uow: UnitOfWork, services: ServiceFactory, i18n: I18n, locale: str
) -> None:
    if user.email:
        await message.answer(already_linked_text(user.email))
        return
    chat_id = message.chat.id
    telegram_id = user.telegram_id if user.telegram_id is not None else chat_id
    run_after_commit(uow, i18n, locale, lambda: send_link_page(bot, chat_id, telegram_id, services))


async def link_from_button(
    query: CallbackQuery, bot: Bot, user: UserDTO, uow: UnitOfWork, services: ServiceFactory, i18n: I18n, locale: str
) -> None:
    # In a private chat the chat id is the user's id, and this button is only ever sent in private chats.
    chat_id = query.from_user.id
    telegram_id = user.telegram_id if user.telegram_id is not None else chat_id
    email = user.email

    async def work() -> None:
        # Answered here rather than at once, so that a failed commit leaves the error middleware's alert to answer.
        await query.answer()
        if email:
            await bot.send_message(chat_id, already_linked_text(email))
        else:
            await send_link_page(bot, chat_id, telegram_id, services)

    run_after_commit(uow, i18n, locale, work)


# --- /start link_<code> ---------------------------------------------------------------------------------------


def link_on_start(
    message: Message, code: str, *, uow: UnitOfWork, services: ServiceFactory, i18n: I18n, locale: str
) -> None:
    """Queue the linking asked for by a start link; the reply is sent once it is done."""
    sender = message.from_user
    if sender is None:
        return
    telegram_profile = profile_of(sender)

    async def work() -> None:
        try:
            linked = await services.identity.link_from_start(code=code, profile=telegram_profile)
        except ValidationFailed as exc:
            if exc.code != "invalid_code":
                raise
            text = _("This link is invalid, already used or expired. Ask for a new one where you got it.")
        except NotFound:
            # The account that asked for the link is gone or disabled: for the person it is just a dead link.
            text = _("This link is invalid, already used or expired. Ask for a new one where you got it.")
        except Conflict as exc:
            if exc.code == "telegram_taken":
                text = _("This Telegram account already belongs to another account. Unlink it there first.")
            elif exc.code == "already_linked":
                text = _("That account is already linked to another Telegram account.")
            else:
                raise
        else:
            text = _("Your Telegram account is now linked to {email}.").format(
                email=linked.email or linked.display_name
            )
        await message.answer(text)

    run_after_commit(uow, i18n, locale, work)


# --- /profile -------------------------------------------------------------------------------------------------


async def profile(
    message: Message, user: UserDTO, uow: UnitOfWork, services: ServiceFactory, i18n: I18n, locale: str
) -> None:
    user_id = user.id

    async def work() -> None:
        methods = await services.identity.methods(user_id)
        referral = await services.identity.referral_info(user_id)
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

    run_after_commit(uow, i18n, locale, work)
