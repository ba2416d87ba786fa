"""/claim and /balance: the daily reward on the points ledger, through the same service as POST /api/v1/claim."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InaccessibleMessage, Message
from aiogram.utils.i18n import gettext as _

from bot.keyboards.rewards import OlderEntries, older_keyboard
from bot.middlewares.access import refusal_text
from bot.middlewares.cooldown import COOLDOWN, CooldownMiddleware, cooldown_text
from core.access import policy
from core.container import UnitOfWork
from core.errors import Forbidden
from core.rewards.cooldowns import CooldownActive
from core.rewards.service import (
    ACCOUNT_MERGE,
    BOT_SUSPECTED,
    CLAIM,
    DAILY_CLAIM,
    REFERRAL_SHARE,
    BalanceDTO,
    RewardsService,
)
from core.users.dto import UserDTO


def create_router() -> Router:
    router = Router(name="rewards")
    router.message.filter(F.chat.type == "private")
    # Inner, so it runs inside the handler's unit of work and sees the handler's flags.
    router.message.middleware(CooldownMiddleware())
    router.callback_query.middleware(CooldownMiddleware())
    router.message.register(claim, Command("claim"), flags={"writes": True, COOLDOWN: CLAIM})
    router.message.register(balance, Command("balance"))
    router.callback_query.register(older, OlderEntries.filter())
    return router


def claim_refusal_text(refused: Forbidden) -> str:
    if refused.code == BOT_SUSPECTED:
        return _("Rewards are not available for this account. If you think this is a mistake, contact the support.")
    if refused.code == policy.ACCOUNT_DISABLED:
        return refusal_text(refused)
    return _("You cannot claim rewards right now.")


async def claim(message: Message, user: UserDTO, uow: UnitOfWork) -> None:
    try:
        result = await RewardsService(uow).claim(user.id)
    except CooldownActive as exc:
        # Today's reward is paid, by this claim's twin or earlier today: say when the next one opens.
        await message.answer(cooldown_text(exc))
        return
    except Forbidden as exc:
        await message.answer(claim_refusal_text(exc))
        return
    lines = [
        _("You received {amount} points.").format(amount=result.amount),
        _("Your balance: {balance} points.").format(balance=result.balance),
    ]
    if result.referral_amount:
        lines.append(
            _("The friend who invited you received {amount} points too.").format(amount=result.referral_amount)
        )
    await message.answer("\n".join(lines))


def entry_kind(kind: str) -> str:
    names = {
        DAILY_CLAIM: _("daily reward"),
        REFERRAL_SHARE: _("invited friend's reward"),
        ACCOUNT_MERGE: _("moved from a linked account"),
    }
    return names.get(kind, kind)


def balance_text(found: BalanceDTO, *, first_page: bool) -> str:
    lines = [_("Your balance: {balance} points.").format(balance=found.balance)] if first_page else []
    if found.entries:
        lines.append(_("Latest entries:") if first_page else _("Older entries:"))
        lines += [
            f"{entry.amount:+d} · {entry_kind(entry.kind)} · {entry.created_at:%Y-%m-%d %H:%M} UTC"
            for entry in found.entries
        ]
    elif first_page:
        lines.append(_("No entries yet. Send /claim to get your daily reward."))
    else:
        lines.append(_("No older entries."))
    return "\n".join(lines)


async def balance(message: Message, user: UserDTO, uow: UnitOfWork) -> None:
    found = await RewardsService(uow).balance(user.id)
    await message.answer(balance_text(found, first_page=True), reply_markup=older_keyboard(found.next_before))


async def older(query: CallbackQuery, callback_data: OlderEntries, user: UserDTO, uow: UnitOfWork) -> None:
    # The page is the presser's own: entries are read from the account of the user pressing, whoever's message it is.
    found = await RewardsService(uow).balance(user.id, before=callback_data.before)
    await query.answer()
    if query.message is None or isinstance(query.message, InaccessibleMessage):
        return
    try:
        await query.message.edit_text(
            balance_text(found, first_page=False), reply_markup=older_keyboard(found.next_before)
        )
    except TelegramBadRequest as exc:
        if "message is not modified" not in exc.message:
            raise
