"""Quick entry in the chat: a message becomes a draft kept in the key-value store (it survives a restart; the buttons
carry only its id), and one tap saves it as a transaction."""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, replace
from datetime import date
from decimal import Decimal

from core.container import UnitOfWork
from core.errors import Forbidden, NotFound, ValidationFailed
from core.finance.config import FinanceConfig
from core.finance.dates import local_date
from core.finance.dto import AccountDTO, CategoryDTO, TransactionDTO
from core.finance.ledger import LedgerService
from core.finance.money import Money
from core.finance.policy import Action, require
from core.finance.quick_entry import Draft, Refusal, guess_category, parse_quick_entry, word_history
from core.finance.scope import membership
from storage.repositories.finance import FinanceRepository

_PREFIX = "finance:draft:"


@dataclass(frozen=True, slots=True)
class EntryDraft:
    id: str
    user_id: int
    family_id: int
    kind: str
    amount: str
    currency: str
    account_id: int
    account_name: str
    category_id: int | None
    category_label: str | None
    local_date: str
    note: str

    @property
    def money(self) -> Money:
        return Money.from_decimal(Decimal(self.amount), self.currency)

    @property
    def day(self) -> date:
        return date.fromisoformat(self.local_date)


def draft_expired() -> NotFound:
    return NotFound("finance.draft_expired", "This draft has expired; send the entry again")


class DraftService:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._kv = uow.container.kv
        self._repo = FinanceRepository(uow.session)
        self._config = uow.config(FinanceConfig)

    async def propose(self, user_id: int, text: str, *, locale: str) -> EntryDraft | Refusal:
        """Read a message as a draft in the user's active family (made on first use), or say why it is none."""
        family, member = await membership(self._uow, user_id, None)
        require(member.role, Action.WRITE_OWN)
        accounts = await self._repo.accounts(family.id)
        today = local_date(self._uow.clock.now(), family.time_zone)
        parsed = parse_quick_entry(text, today=today, locale=locale, accounts=[a.name for a in accounts])
        if isinstance(parsed, Refusal):
            return parsed
        if not accounts:
            raise ValidationFailed("finance.no_account", "Add an account first")
        account = accounts[0]
        if parsed.account is not None:
            account = await self._repo.account_by_name(family.id, parsed.account) or account
        if parsed.currency is not None and parsed.currency != account.currency:
            same = [a for a in accounts if a.currency == parsed.currency]
            if same:
                account = same[0]
        money = Money.from_decimal(parsed.amount, account.currency)
        category_id = await self._guess(family.id, parsed)
        category = await self._repo.category(family.id, category_id) if category_id is not None else None
        if category is not None and category.kind != parsed.kind.value:
            category = None
        draft = EntryDraft(
            id=secrets.token_urlsafe(9),
            user_id=user_id,
            family_id=family.id,
            kind=parsed.kind.value,
            amount=str(money.to_decimal()),
            currency=account.currency,
            account_id=account.id,
            account_name=account.name,
            category_id=category.id if category else None,
            category_label=(f"{category.emoji} {category.name}" if category.emoji else category.name)
            if category
            else None,
            local_date=parsed.local_date.isoformat(),
            note=parsed.note,
        )
        await self._store(draft)
        return draft

    async def _guess(self, family_id: int, parsed: Draft) -> int | None:
        aliases = await self._repo.aliases(family_id)
        history = word_history(await self._repo.categorised_notes(family_id))
        return guess_category(parsed.words, aliases, history)

    async def _store(self, draft: EntryDraft) -> None:
        await self._kv.set(_PREFIX + draft.id, json.dumps(asdict(draft)), ttl=self._config.draft_ttl.total_seconds())

    async def get(self, user_id: int, draft_id: str) -> EntryDraft:
        raw = await self._kv.get(_PREFIX + draft_id) if len(draft_id) <= 32 else None
        if raw is None:
            raise draft_expired()
        draft = EntryDraft(**json.loads(raw))
        if draft.user_id != user_id:
            # Someone else's buttons (a forwarded message): the draft does not exist for them.
            raise draft_expired()
        return draft

    async def category_choices(self, user_id: int, draft_id: str) -> tuple[EntryDraft, list[CategoryDTO]]:
        """The draft and the categories it may take (its kind's, in its family)."""
        draft = await self.get(user_id, draft_id)
        return draft, await LedgerService(self._uow).categories(user_id, draft.family_id, kind=draft.kind)

    async def account_choices(self, user_id: int, draft_id: str) -> tuple[EntryDraft, list[AccountDTO]]:
        draft = await self.get(user_id, draft_id)
        return draft, await LedgerService(self._uow).accounts(user_id, draft.family_id)

    async def set_category(self, user_id: int, draft_id: str, category_id: int) -> EntryDraft:
        draft = await self.get(user_id, draft_id)
        category = await LedgerService(self._uow).category(user_id, draft.family_id, category_id)
        if category.kind != draft.kind:
            raise ValidationFailed("finance.category_kind_mismatch", "That category is for another kind")
        changed = replace(draft, category_id=category.id, category_label=category.label)
        await self._store(changed)
        return changed

    async def set_account(self, user_id: int, draft_id: str, account_id: int) -> EntryDraft:
        draft = await self.get(user_id, draft_id)
        account = await LedgerService(self._uow).account(user_id, draft.family_id, account_id)
        money = Money.from_decimal(Decimal(draft.amount), account.currency)
        changed = replace(
            draft,
            account_id=account.id,
            account_name=account.name,
            currency=account.currency,
            amount=str(money.to_decimal()),
        )
        await self._store(changed)
        return changed

    async def save(self, user_id: int, draft_id: str) -> TransactionDTO:
        """Save the draft once: a second tap (or a redelivered update) returns the same transaction."""
        draft = await self.get(user_id, draft_id)
        return await LedgerService(self._uow).create(
            user_id,
            draft.family_id,
            kind=draft.kind,
            account_id=draft.account_id,
            amount=Decimal(draft.amount),
            category_id=draft.category_id,
            local_day=draft.day,
            note=draft.note,
            source="chat",
            idempotency_key=f"draft:{draft.id}",
        )

    async def cancel(self, user_id: int, draft_id: str) -> None:
        await self.get(user_id, draft_id)
        await self._kv.delete(_PREFIX + draft_id)


__all__ = ["DraftService", "EntryDraft", "Forbidden", "draft_expired"]
