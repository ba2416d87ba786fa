"""Family finance in the chat: quick entry (a plain message becomes a draft, one tap saves it), /undo, /accounts,
/categories, /rate, /today, /month, /family, /export, and `/start join_<code>`."""

from __future__ import annotations

from datetime import timedelta

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.keyboards.finance import (
    ACCOUNTS,
    BACK,
    CANCEL,
    CATEGORIES,
    INVITE,
    SAVE,
    SET_ACCOUNT,
    SET_CATEGORY,
    SWITCH,
    DraftAction,
    FamilyAction,
    account_keyboard,
    category_keyboard,
    draft_keyboard,
    family_keyboard,
)
from core.container import UnitOfWork
from core.errors import DomainError, Forbidden, NotFound
from core.finance.drafts import DraftService, EntryDraft
from core.finance.dto import RateList, SummaryDTO, TransactionDTO
from core.finance.errors import InvalidCurrency, RateMissing
from core.finance.families import FamilyService
from core.finance.ledger import LedgerService
from core.finance.money import Money
from core.finance.policy import Action, allows
from core.finance.quick_entry import Refusal, RefusalReason
from core.finance.rates import format_rate, parse_rate_entry
from core.finance.reports import ReportService
from core.users.dto import UserDTO

WRITES = {"writes": True}


def create_router() -> Router:
    router = Router(name="finance")
    router.message.filter(F.chat.type == "private")
    router.message.register(undo, Command("undo"), flags=WRITES)
    router.message.register(accounts, Command("accounts"))
    router.message.register(categories, Command("categories"))
    # "/rate" alone reads the list; with words it sets a rate, so only that form takes a write transaction.
    router.message.register(rates, Command("rate", magic=F.args.is_(None)))
    router.message.register(set_rate, Command("rate"), flags=WRITES)
    router.message.register(today, Command("today"))
    router.message.register(month, Command("month", "report"))
    router.message.register(family, Command("family"))
    router.message.register(export, Command("export"))
    # Any other plain text is a quick entry; commands fall through to the fallback router.
    router.message.register(quick_entry, F.text, ~F.text.startswith("/"), flags=WRITES)
    router.callback_query.register(save_draft, DraftAction.filter(F.action == SAVE), flags=WRITES)
    router.callback_query.register(
        edit_draft, DraftAction.filter(F.action.in_({CATEGORIES, ACCOUNTS, SET_CATEGORY, SET_ACCOUNT, BACK, CANCEL}))
    )
    router.callback_query.register(family_button, FamilyAction.filter(), flags=WRITES)
    return router


# --- texts ------------------------------------------------------------------------------------------------------


def problem(error: DomainError) -> str:
    """What a person reads when a finance call is refused."""
    if error.code == "finance.draft_expired":
        return _("This draft has expired. Send the entry again.")
    if isinstance(error, RateMissing):
        return _(
            "{currency} has no exchange rate to {base} for this date yet. Add one with /rate {currency} 92.5"
        ).format(currency=error.currency, base=error.base_currency)
    if isinstance(error, Forbidden):
        return _("Your role in this family does not allow this.")
    if isinstance(error, NotFound):
        return _("That is no longer available.")
    return _("That did not work: {reason}").format(reason=error.message)


def money(minor: int, currency: str, locale: str) -> str:
    return Money(minor, currency).format(locale)


def draft_text(draft: EntryDraft, locale: str) -> str:
    amount = draft.money.format(locale)
    lines = [
        _("Expense: {amount}").format(amount=amount)
        if draft.kind == "expense"
        else _("Income: {amount}").format(amount=amount)
    ]
    lines.append(_("Category: {category}").format(category=draft.category_label or _("none")))
    lines.append(_("Account: {account}").format(account=draft.account_name))
    lines.append(_("Date: {date}").format(date=draft.local_date))
    if draft.note:
        lines.append(_("Note: {note}").format(note=draft.note))
    return "\n".join(lines)


def entry_line(entry: TransactionDTO, locale: str) -> str:
    return f"{money(entry.amount_minor, entry.currency, locale)} {entry.note}".rstrip()


def summary_lines(by_category: SummaryDTO, by_member: SummaryDTO, locale: str) -> list[str]:
    currency = by_category.base_currency
    lines = [
        _("Income: {amount}").format(amount=money(by_category.income_minor, currency, locale)),
        _("Expense: {amount}").format(amount=money(-by_category.expense_minor, currency, locale)),
        "",
        _("By category:"),
    ]
    lines += [
        f"• {g.label}: {money(abs(g.total_minor), currency, locale)}" for g in by_category.groups if g.kind == "expense"
    ]
    lines += ["", _("By member:")]
    lines += [
        f"• {g.label}: {money(abs(g.total_minor), currency, locale)}" for g in by_member.groups if g.kind == "expense"
    ]
    return lines


def rate_problem(error: DomainError) -> str:
    """What a person reads when /rate with words is refused: what to type instead."""
    if error.code == "finance.rate_entry_unreadable":
        return _("To set a rate, send the currency, the rate and, if you like, the date: /rate USD 92.5 2026-11-30")
    if isinstance(error, InvalidCurrency):
        return _("I do not know the currency “{code}”. Use its three-letter code, like USD or EUR.").format(
            code=error.currency
        )
    if error.code in ("finance.rate_unreadable", "finance.rate_invalid"):
        return _("A rate is a positive number with at most 12 digits before and after the point, like 92.5")
    if error.code == "finance.date_unreadable":
        return _("I could not read that date. Write it like 2026-11-30 or 30.11.2026.")
    if error.code == "finance.rate_base":
        return _("That is the family's base currency: it needs no rate.")
    if isinstance(error, Forbidden):
        return _("Only the family's owners and admins may set exchange rates.")
    return problem(error)


def rates_text(found: RateList, locale: str) -> str:
    base = found.base_currency
    lines = [_("Exchange rates to {base}:").format(base=base)]
    lines += [
        _("• 1 {currency} = {rate} {base}, from {date}").format(
            currency=r.currency, rate=format_rate(r.rate, locale=locale), base=base, date=r.rate_date.isoformat()
        )
        for r in found.items
    ] or [_("None yet.")]
    # An example that is not the base currency itself, which takes no rate.
    example = "EUR" if base == "USD" else "USD"
    lines += [
        "",
        _("Set a rate: /rate {currency} 92.5, or from a date: /rate {currency} 92.5 2026-11-30").format(
            currency=example
        ),
    ]
    return "\n".join(lines)


# --- quick entry ------------------------------------------------------------------------------------------------


async def quick_entry(message: Message, user: UserDTO, uow: UnitOfWork, locale: str) -> None:
    try:
        draft = await DraftService(uow).propose(user.id, message.text or "", locale=locale)
    except DomainError as error:
        await message.answer(problem(error))
        return
    if isinstance(draft, Refusal):
        await message.answer(refusal_hint(draft))
        return
    await message.answer(draft_text(draft, locale), reply_markup=draft_keyboard(draft.id))


def refusal_hint(refusal: Refusal) -> str:
    if refusal.reason in (RefusalReason.NO_AMOUNT, RefusalReason.EMPTY):
        return _(
            "To add an entry, send an amount and a word, like “250 coffee” or “+50000 salary”. "
            "Send /help to see what I can do."
        )
    return _("I could not read that amount or date. Try “250 coffee” or “250,50 taxi yesterday”.")


async def save_draft(
    query: CallbackQuery, callback_data: DraftAction, user: UserDTO, uow: UnitOfWork, locale: str
) -> None:
    try:
        saved = await DraftService(uow).save(user.id, callback_data.draft)
    except DomainError as error:
        await query.answer(problem(error), show_alert=True)
        return
    await query.answer(_("Saved"))
    if isinstance(query.message, Message):
        await query.message.edit_text(
            _("Saved: {entry}. Send /undo to take it back.").format(entry=entry_line(saved, locale))
        )


async def edit_draft(
    query: CallbackQuery, callback_data: DraftAction, user: UserDTO, uow: UnitOfWork, locale: str
) -> None:
    drafts = DraftService(uow)
    action, draft_id = callback_data.action, callback_data.draft
    target = query.message if isinstance(query.message, Message) else None
    try:
        if action == CANCEL:
            await drafts.cancel(user.id, draft_id)
            await query.answer()
            if target is not None:
                await target.edit_text(_("Cancelled."))
            return
        if action == CATEGORIES:
            draft, choices = await drafts.category_choices(user.id, draft_id)
            markup = category_keyboard(draft.id, choices)
        elif action == ACCOUNTS:
            draft, accounts_found = await drafts.account_choices(user.id, draft_id)
            markup = account_keyboard(draft.id, accounts_found)
        else:
            if action == SET_CATEGORY:
                draft = await drafts.set_category(user.id, draft_id, callback_data.item)
            elif action == SET_ACCOUNT:
                draft = await drafts.set_account(user.id, draft_id, callback_data.item)
            else:
                draft = await drafts.get(user.id, draft_id)
            markup = draft_keyboard(draft.id)
    except DomainError as error:
        await query.answer(problem(error), show_alert=True)
        return
    await query.answer()
    if target is not None:
        await target.edit_text(draft_text(draft, locale), reply_markup=markup)


# --- commands ---------------------------------------------------------------------------------------------------


async def undo(message: Message, user: UserDTO, uow: UnitOfWork, locale: str) -> None:
    try:
        undone = await LedgerService(uow).undo_last(user.id, None)
    except DomainError as error:
        await message.answer(problem(error))
        return
    if undone is None:
        await message.answer(_("There is nothing recent of yours to undo."))
    else:
        await message.answer(_("Deleted: {entry}").format(entry=entry_line(undone, locale)))


async def accounts(message: Message, user: UserDTO, uow: UnitOfWork, locale: str) -> None:
    try:
        found = await LedgerService(uow).accounts(user.id, None)
    except DomainError as error:
        await message.answer(problem(error))
        return
    lines = [_("Accounts:")] + [f"• {a.name}: {a.balance.format(locale)}" for a in found]
    await message.answer("\n".join(lines))


async def categories(message: Message, user: UserDTO, uow: UnitOfWork) -> None:
    try:
        found = await LedgerService(uow).categories(user.id, None)
    except DomainError as error:
        await message.answer(problem(error))
        return
    expense = ", ".join(c.label for c in found if c.kind == "expense")
    income = ", ".join(c.label for c in found if c.kind == "income")
    await message.answer(
        "\n".join(
            [
                _("Expense categories: {names}").format(names=expense),
                _("Income categories: {names}").format(names=income),
            ]
        )
    )


async def rates(message: Message, user: UserDTO, uow: UnitOfWork, locale: str) -> None:
    try:
        found = await LedgerService(uow).latest_rates(user.id, None)
    except DomainError as error:
        await message.answer(problem(error))
        return
    await message.answer(rates_text(found, locale))


async def set_rate(message: Message, command: CommandObject, user: UserDTO, uow: UnitOfWork, locale: str) -> None:
    try:
        entry = parse_rate_entry(command.args or "", locale=locale)
        saved = await LedgerService(uow).set_rate(user.id, None, entry.currency, entry.day, entry.rate)
    except DomainError as error:
        await message.answer(rate_problem(error))
        return
    await message.answer(
        _("Saved: 1 {currency} = {rate} {base} from {date}. Entries already made keep their rate.").format(
            currency=saved.currency,
            rate=format_rate(saved.rate, locale=locale),
            base=saved.base_currency,
            date=saved.rate_date.isoformat(),
        )
    )


async def today(message: Message, user: UserDTO, uow: UnitOfWork, locale: str) -> None:
    try:
        day, entries = await LedgerService(uow).day_entries(user.id, None)
    except DomainError as error:
        await message.answer(problem(error))
        return
    lines = [_("Today, {date}:").format(date=day.isoformat())]
    lines += [f"• {entry_line(e, locale)}" for e in entries] or [_("No entries yet.")]
    await message.answer("\n".join(lines))


async def month(message: Message, command: CommandObject, user: UserDTO, uow: UnitOfWork, locale: str) -> None:
    try:
        report = await ReportService(uow).month(
            user.id,
            None,
            command.args,
            title=_("Spending by category"),
            trend_title=_("Spending by day"),
            other_label=_("Other"),
            uncategorised=_("no category"),
            locale=locale,
        )
    except DomainError as error:
        await message.answer(problem(error))
        return
    header = _("{start} to {end}").format(
        start=report.by_category.start.isoformat(), end=(report.by_category.end - timedelta(days=1)).isoformat()
    )
    await message.answer("\n".join([header, *summary_lines(report.by_category, report.by_member, locale)]))
    if report.chart_png is not None:
        await message.answer_photo(BufferedInputFile(report.chart_png, filename="month.png"))
    if report.trend_png is not None:
        await message.answer_photo(BufferedInputFile(report.trend_png, filename="days.png"))


async def family(message: Message, user: UserDTO, uow: UnitOfWork) -> None:
    try:
        families, members = await FamilyService(uow).overview(user.id)
    except DomainError as error:
        await message.answer(problem(error))
        return
    active = next(f for f in families if f.active)
    lines = [_("Family: {name}").format(name=active.name), _("Members:")]
    lines += [f"• {m.name} — {role_name(m.role)}" for m in members]
    await message.answer(
        "\n".join(lines), reply_markup=family_keyboard(families, may_invite=allows(active.role, Action.MANAGE))
    )


def role_name(role: str) -> str:
    names = {"owner": _("owner"), "admin": _("admin"), "member": _("member"), "viewer": _("viewer")}
    return names.get(role, role)


async def family_button(query: CallbackQuery, callback_data: FamilyAction, user: UserDTO, uow: UnitOfWork) -> None:
    try:
        if callback_data.action == INVITE:
            issued = await FamilyService(uow).invite(user.id, None)
            text = _("Send this link to the person you invite; it works once: {link}").format(
                link=issued.link or issued.code
            )
        elif callback_data.action == SWITCH:
            switched = await FamilyService(uow).switch(user.id, callback_data.family)
            text = _("Active family: {name}").format(name=switched.name)
        else:
            await query.answer()
            return
    except DomainError as error:
        await query.answer(problem(error), show_alert=True)
        return
    await query.answer()
    if query.bot is not None:
        await query.bot.send_message(query.from_user.id, text)


async def export(message: Message, command: CommandObject, user: UserDTO, uow: UnitOfWork) -> None:
    try:
        name, text = await ReportService(uow).export_month(user.id, None, command.args)
    except DomainError as error:
        await message.answer(problem(error))
        return
    await message.answer_document(BufferedInputFile(text.encode("utf-8"), filename=name), caption=name)


async def join_on_start(message: Message, code: str, user: UserDTO, uow: UnitOfWork) -> None:
    """`/start join_<code>`: join the family the invite is for."""
    try:
        joined = await FamilyService(uow).accept(user.id, code)
    except DomainError:
        await message.answer(_("This invite is invalid, used up, expired or revoked. Ask for a new one."))
        return
    await message.answer(
        _("You joined the family “{name}”. Send an expense like “250 coffee” to add it there.").format(name=joined.name)
    )
