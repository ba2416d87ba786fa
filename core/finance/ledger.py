"""Accounts, categories and the ledger of transactions of one family, always reached through membership."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError

from core.container import UnitOfWork
from core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from core.finance.config import FinanceConfig
from core.finance.dates import local_date
from core.finance.dto import AccountDTO, CategoryDTO, EntryPage, RateDTO, RateList, TransactionDTO, TransferDTO
from core.finance.errors import RateMissing
from core.finance.money import Money, validate_currency
from core.finance.policy import Action, may_edit_entry, require
from core.finance.scope import membership
from storage.models.finance import (
    ACCOUNT_KINDS,
    CATEGORY_KINDS,
    Account,
    Category,
    ExchangeRate,
    Family,
    FamilyMember,
    IdempotencyKey,
    KeywordAlias,
    Transaction,
    TransactionEdit,
)
from storage.repositories.finance import FinanceRepository, LedgerCursor

MAX_NAME = 64
MAX_NOTE = 500
MAX_KEY = 64


def account_not_found() -> NotFound:
    return NotFound("finance.account_not_found", "Account not found")


def category_not_found() -> NotFound:
    return NotFound("finance.category_not_found", "Category not found")


def transaction_not_found() -> NotFound:
    return NotFound("finance.transaction_not_found", "Transaction not found")


def encode_cursor(cursor: LedgerCursor | None) -> str | None:
    if cursor is None:
        return None
    return base64.urlsafe_b64encode(f"{cursor.local_date.isoformat()}|{cursor.id}".encode()).decode().rstrip("=")


def decode_cursor(value: str | None) -> LedgerCursor | None:
    if not value:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        day, _, ident = raw.partition("|")
        return LedgerCursor(date.fromisoformat(day), int(ident))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed("finance.cursor_invalid", "The cursor is not one this server gave") from None


def _name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned or len(cleaned) > MAX_NAME:
        raise ValidationFailed("finance.name_invalid", f"A name has 1 to {MAX_NAME} characters")
    return cleaned


def _note(note: str) -> str:
    cleaned = " ".join(note.split())
    if len(cleaned) > MAX_NOTE:
        raise ValidationFailed("finance.note_too_long", f"A note has at most {MAX_NOTE} characters")
    return cleaned


def _keyword(keyword: str) -> str:
    word = keyword.strip().lower()
    if not word or len(word) > MAX_NAME or not word.isprintable() or any(char.isspace() for char in word):
        raise ValidationFailed("finance.keyword_invalid", f"A keyword is one word of at most {MAX_NAME} characters")
    return word


def _amount(amount: Decimal, currency: str) -> Money:
    if amount <= 0:
        raise ValidationFailed("finance.amount_not_positive", "The amount must be positive")
    return Money.from_decimal(amount, currency)


def snapshot(row: Transaction) -> dict[str, Any]:
    return {
        "kind": row.kind,
        "account_id": row.account_id,
        "category_id": row.category_id,
        "amount_minor": row.amount_minor,
        "currency": row.currency,
        "rate_to_base": str(row.rate_to_base),
        "base_amount_minor": row.base_amount_minor,
        "local_date": row.local_date.isoformat(),
        "note": row.note,
    }


@dataclass(frozen=True, slots=True)
class NewEntry:
    kind: str
    # Positive, in the account's currency.
    amount: Money
    local_day: date
    note: str = ""
    category_id: int | None = None


@dataclass(frozen=True, slots=True)
class EntryFilter:
    date_from: date | None = None
    date_to: date | None = None
    account_id: int | None = None
    category_id: int | None = None
    author_id: int | None = None
    kind: str | None = None
    text: str | None = None
    oldest_first: bool = False


class LedgerService:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._session = uow.session
        self._repo = FinanceRepository(uow.session)
        self._clock = uow.clock

    async def _scope(self, user_id: int, family_id: int | None, action: Action) -> tuple[Family, FamilyMember]:
        family, member = await membership(self._uow, user_id, family_id)
        require(member.role, action)
        return family, member

    async def today(self, user_id: int, family_id: int | None) -> date:
        family, _ = await self._scope(user_id, family_id, Action.READ)
        return local_date(self._clock.now(), family.time_zone)

    # --- accounts ------------------------------------------------------------------------------------------

    async def accounts(
        self, user_id: int, family_id: int | None, *, include_archived: bool = False
    ) -> list[AccountDTO]:
        family, _ = await self._scope(user_id, family_id, Action.READ)
        balances = await self._repo.balances(family.id)
        rows = await self._repo.accounts(family.id, include_archived=include_archived)
        return [AccountDTO.of(row, balances.get(row.id, row.opening_balance_minor)) for row in rows]

    async def account(self, user_id: int, family_id: int | None, account_id: int) -> AccountDTO:
        family, _ = await self._scope(user_id, family_id, Action.READ)
        row = await self._repo.account(family.id, account_id)
        if row is None:
            raise account_not_found()
        return AccountDTO.of(row, (await self._repo.balances(family.id)).get(row.id, row.opening_balance_minor))

    async def create_account(
        self,
        user_id: int,
        family_id: int | None,
        *,
        name: str,
        kind: str = "cash",
        currency: str | None = None,
        opening_balance: Decimal = Decimal(0),
    ) -> AccountDTO:
        family, _ = await self._scope(user_id, family_id, Action.MANAGE)
        if kind not in ACCOUNT_KINDS:
            raise ValidationFailed("finance.account_kind_invalid", f"Kind is one of {', '.join(ACCOUNT_KINDS)}")
        currency = validate_currency(currency or family.base_currency)
        opening = Money.from_decimal(opening_balance, currency)
        if await self._repo.account_by_name(family.id, _name(name)) is not None:
            raise Conflict("finance.account_exists", "An account with this name exists")
        row = Account(
            family_id=family.id,
            name=_name(name),
            kind=kind,
            currency=currency,
            opening_balance_minor=opening.minor,
            created_at=self._clock.now(),
        )
        try:
            # Two requests naming the same new one at once: the unique name decides, the loser gets a 409.
            async with self._session.begin_nested():
                await self._repo.add(row)
        except IntegrityError:
            raise Conflict("finance.account_exists", "An account with this name exists") from None
        return AccountDTO.of(row, opening.minor)

    async def update_account(
        self,
        user_id: int,
        family_id: int | None,
        account_id: int,
        *,
        name: str | None = None,
        kind: str | None = None,
        archived: bool | None = None,
    ) -> AccountDTO:
        family, _ = await self._scope(user_id, family_id, Action.MANAGE)
        row = await self._repo.account(family.id, account_id)
        if row is None:
            raise account_not_found()
        if name is not None:
            same = await self._repo.account_by_name(family.id, _name(name))
            if same is not None and same.id != row.id:
                raise Conflict("finance.account_exists", "An account with this name exists")
            row.name = _name(name)
        if kind is not None:
            if kind not in ACCOUNT_KINDS:
                raise ValidationFailed("finance.account_kind_invalid", f"Kind is one of {', '.join(ACCOUNT_KINDS)}")
            row.kind = kind
        if archived is not None:
            row.archived = archived
        try:
            await self._session.flush()
        except IntegrityError:
            # A concurrent rename took the name first.
            raise Conflict("finance.account_exists", "An account with this name exists") from None
        return await self.account(user_id, family.id, row.id)

    # --- categories ----------------------------------------------------------------------------------------

    async def categories(
        self, user_id: int, family_id: int | None, *, kind: str | None = None, include_archived: bool = False
    ) -> list[CategoryDTO]:
        family, _ = await self._scope(user_id, family_id, Action.READ)
        rows = await self._repo.categories(family.id, kind=kind, include_archived=include_archived)
        return [CategoryDTO.of(row) for row in rows]

    async def category(self, user_id: int, family_id: int | None, category_id: int) -> CategoryDTO:
        family, _ = await self._scope(user_id, family_id, Action.READ)
        row = await self._repo.category(family.id, category_id)
        if row is None:
            raise category_not_found()
        return CategoryDTO.of(row)

    async def create_category(
        self,
        user_id: int,
        family_id: int | None,
        *,
        name: str,
        kind: str = "expense",
        emoji: str | None = None,
        parent_id: int | None = None,
    ) -> CategoryDTO:
        family, _ = await self._scope(user_id, family_id, Action.MANAGE)
        if kind not in CATEGORY_KINDS:
            raise ValidationFailed("finance.category_kind_invalid", "Kind is expense or income")
        if parent_id is not None:
            parent = await self._repo.category(family.id, parent_id)
            if parent is None:
                raise category_not_found()
            if parent.parent_id is not None or parent.kind != kind:
                raise ValidationFailed("finance.category_parent_invalid", "A parent is a top category of the same kind")
        if await self._repo.category_by_name(family.id, kind, _name(name)) is not None:
            raise Conflict("finance.category_exists", "A category with this name exists")
        row = Category(
            family_id=family.id,
            kind=kind,
            name=_name(name),
            emoji=(emoji or None) and emoji[:16],
            parent_id=parent_id,
            created_at=self._clock.now(),
        )
        try:
            # Two requests naming the same new one at once: the unique name decides, the loser gets a 409.
            async with self._session.begin_nested():
                await self._repo.add(row)
        except IntegrityError:
            raise Conflict("finance.category_exists", "A category with this name exists") from None
        return CategoryDTO.of(row)

    async def update_category(
        self,
        user_id: int,
        family_id: int | None,
        category_id: int,
        *,
        name: str | None = None,
        emoji: str | None = None,
        archived: bool | None = None,
    ) -> CategoryDTO:
        family, _ = await self._scope(user_id, family_id, Action.MANAGE)
        row = await self._repo.category(family.id, category_id)
        if row is None:
            raise category_not_found()
        if name is not None:
            same = await self._repo.category_by_name(family.id, row.kind, _name(name))
            if same is not None and same.id != row.id:
                raise Conflict("finance.category_exists", "A category with this name exists")
            row.name = _name(name)
        if emoji is not None:
            row.emoji = emoji[:16] or None
        if archived is not None:
            row.archived = archived
        try:
            await self._session.flush()
        except IntegrityError:
            # A concurrent rename took the name first.
            raise Conflict("finance.category_exists", "A category with this name exists") from None
        return CategoryDTO.of(row)

    async def merge_categories(
        self, user_id: int, family_id: int | None, source_id: int, target_id: int
    ) -> tuple[CategoryDTO, int]:
        """Move every entry of `source` into `target` and archive `source`; returns the target and how many moved."""
        family, _ = await self._scope(user_id, family_id, Action.MANAGE)
        source = await self._repo.category(family.id, source_id)
        target = await self._repo.category(family.id, target_id)
        if source is None or target is None:
            raise category_not_found()
        if source.id == target.id or source.kind != target.kind:
            raise ValidationFailed("finance.merge_invalid", "Merge two different categories of the same kind")
        if target.parent_id == source.id:
            target.parent_id = source.parent_id
        moved = await self._repo.move_category(family.id, source.id, target.id)
        source.archived = True
        await self._session.flush()
        await self._session.refresh(target)
        return CategoryDTO.of(target), moved

    # --- keyword aliases (quick entry's rules: this word means this category) ------------------------------------

    async def keywords(self, user_id: int, family_id: int | None) -> dict[str, int]:
        family, _ = await self._scope(user_id, family_id, Action.READ)
        return dict(sorted((await self._repo.aliases(family.id)).items()))

    async def set_keyword(self, user_id: int, family_id: int | None, keyword: str, category_id: int) -> dict[str, int]:
        family, _ = await self._scope(user_id, family_id, Action.MANAGE)
        word = _keyword(keyword)
        category = await self._repo.category(family.id, category_id)
        if category is None:
            raise category_not_found()
        row = await self._repo.alias(family.id, word)
        if row is None:
            await self._repo.add(KeywordAlias(family_id=family.id, keyword=word, category_id=category.id))
        else:
            row.category_id = category.id
            await self._session.flush()
        return await self.keywords(user_id, family.id)

    async def remove_keyword(self, user_id: int, family_id: int | None, keyword: str) -> None:
        family, _ = await self._scope(user_id, family_id, Action.MANAGE)
        row = await self._repo.alias(family.id, _keyword(keyword))
        if row is None:
            raise NotFound("finance.keyword_not_found", "No such keyword")
        await self._repo.remove(row)

    # --- exchange rates ------------------------------------------------------------------------------------

    async def set_rate(
        self, user_id: int, family_id: int | None, currency: str, day: date | None, rate: Decimal
    ) -> RateDTO:
        """One unit of `currency` in the base currency from `day` on (None: the family's today). A second rate for
        the same day corrects the first; entries already made keep the rate they were made with."""
        family, _ = await self._scope(user_id, family_id, Action.MANAGE)
        currency = validate_currency(currency)
        if not rate.is_finite() or rate <= 0:
            raise ValidationFailed("finance.rate_invalid", "A rate is a positive number")
        if currency == family.base_currency:
            raise ValidationFailed("finance.rate_base", "The base currency needs no rate")
        day = day or local_date(self._clock.now(), family.time_zone)
        existing = await self._repo.rate_of_day(family.id, currency, day)
        if existing is None:
            try:
                async with self._session.begin_nested():
                    await self._repo.add(
                        ExchangeRate(
                            family_id=family.id,
                            currency=currency,
                            rate_date=day,
                            rate=rate,
                            created_by_id=user_id,
                            created_at=self._clock.now(),
                        )
                    )
            except IntegrityError:
                # Entered at the same moment by someone else: this one corrects it, as if it came second.
                existing = await self._repo.rate_of_day(family.id, currency, day)
                if existing is None:
                    raise
        if existing is not None:
            # Who entered the day's rate and when: the latest correction's author.
            existing.rate, existing.created_by_id, existing.created_at = rate, user_id, self._clock.now()
            await self._session.flush()
        return RateDTO(family.id, currency, family.base_currency, rate, day)

    async def latest_rates(self, user_id: int, family_id: int | None) -> RateList:
        """Each currency's most recent rate (by its date), the currencies in alphabetical order."""
        family, _ = await self._scope(user_id, family_id, Action.READ)
        rows = await self._repo.latest_rates(family.id)
        return RateList(
            family.id,
            family.base_currency,
            [RateDTO(family.id, row.currency, family.base_currency, row.rate, row.rate_date) for row in rows],
        )

    async def _rate(self, family: Family, currency: str, day: date) -> Decimal:
        if currency == family.base_currency:
            return Decimal(1)
        rate = await self._repo.rate_on(family.id, currency, day)
        if rate is None:
            raise RateMissing(currency, family.base_currency)
        return rate

    # --- transactions --------------------------------------------------------------------------------------

    async def _account(self, family: Family, account_id: int) -> Account:
        row = await self._repo.account(family.id, account_id)
        if row is None:
            raise account_not_found()
        return row

    async def _category(self, family: Family, category_id: int | None, kind: str) -> int | None:
        if category_id is None:
            return None
        row = await self._repo.category(family.id, category_id)
        if row is None:
            raise category_not_found()
        if row.kind != kind:
            raise ValidationFailed("finance.category_kind_mismatch", f"That category is not for {kind}s")
        return row.id

    async def _claim_key(
        self, user_id: int, family: Family, key: str | None, request_hash: str | None
    ) -> tuple[IdempotencyKey | None, list[Transaction] | None]:
        """Claim a client's key; when it was claimed before, the entries it created (a retry gets them back)."""
        if key is None:
            return None, None
        if not key or len(key) > MAX_KEY:
            raise ValidationFailed(
                "finance.idempotency_key_invalid", f"An Idempotency-Key has 1 to {MAX_KEY} characters"
            )
        row = IdempotencyKey(
            user_id=user_id, key=key, family_id=family.id, request_hash=request_hash, created_at=self._clock.now()
        )
        try:
            async with self._session.begin_nested():
                await self._repo.add(row)
            return row, None
        except IntegrityError:
            pass
        first = await self._repo.idempotency_key(user_id, key)
        if first is None:
            raise Conflict("finance.idempotency_in_flight", "A request with this key is still being handled; retry")
        if first.family_id != family.id or (request_hash is not None and first.request_hash != request_hash):
            raise Conflict("finance.idempotency_key_reused", "This Idempotency-Key was used for a different request")
        if first.transaction_id is None:
            raise Conflict("finance.idempotency_gone", "The entry created with this key was deleted")
        entry = await self._repo.transaction(family.id, first.transaction_id)
        if entry is None:
            raise Conflict("finance.idempotency_gone", "The entry created with this key was deleted")
        if entry.transfer_group_id is not None:
            return None, list(await self._repo.transfer_legs(family.id, entry.transfer_group_id))
        return None, [entry]

    async def _record(self, family_id: int, row: Transaction, action: str, user_id: int, before: Any) -> None:
        self._session.add(
            TransactionEdit(
                family_id=family_id,
                transaction_id=row.id,
                action=action,
                user_id=user_id,
                at=self._clock.now(),
                before=before,
                after=snapshot(row) if action != "delete" else None,
            )
        )
        await self._session.flush()

    async def create(
        self,
        user_id: int,
        family_id: int | None,
        *,
        kind: str,
        account_id: int,
        amount: Decimal,
        category_id: int | None = None,
        local_day: date | None = None,
        note: str = "",
        source: str = "api",
        idempotency_key: str | None = None,
        request_hash: str | None = None,
    ) -> TransactionDTO:
        """An expense or an income; `amount` is positive, in the account's currency's major units."""
        family, _ = await self._scope(user_id, family_id, Action.WRITE_OWN)
        if kind not in ("expense", "income"):
            raise ValidationFailed("finance.kind_invalid", "Kind is expense or income (transfers have their own call)")
        claimed, earlier = await self._claim_key(user_id, family, idempotency_key, request_hash)
        if earlier is not None:
            return TransactionDTO.of(earlier[0])
        account = await self._account(family, account_id)
        category = await self._category(family, category_id, kind)
        money = _amount(amount, account.currency)
        day = local_day or local_date(self._clock.now(), family.time_zone)
        rate = await self._rate(family, account.currency, day)
        signed = money.minor if kind == "income" else -money.minor
        base = Money(signed, account.currency).convert(rate, family.base_currency)
        now = self._clock.now()
        row = Transaction(
            family_id=family.id,
            kind=kind,
            account_id=account.id,
            category_id=category,
            amount_minor=signed,
            currency=account.currency,
            rate_to_base=rate,
            base_amount_minor=base.minor,
            local_date=day,
            note=_note(note),
            author_id=user_id,
            source=source,
            created_at=now,
            updated_at=now,
        )
        await self._repo.add(row)
        await self._record(family.id, row, "create", user_id, None)
        if claimed is not None:
            claimed.transaction_id = row.id
            await self._session.flush()
        return TransactionDTO.of(row)

    async def create_batch(
        self, user_id: int, family_id: int | None, account_id: int, entries: Sequence[NewEntry], *, source: str
    ) -> int:
        """Many expenses and incomes into one account at once (an import): one membership check, one rate look-up
        per day, two flushes; each entry's creation is still recorded in the history."""
        family, _ = await self._scope(user_id, family_id, Action.WRITE_OWN)
        account = await self._account(family, account_id)
        categories = {row.id: row.kind for row in await self._repo.categories(family.id, include_archived=True)}
        rates: dict[date, Decimal] = {}
        now = self._clock.now()
        rows = []
        for entry in entries:
            if entry.amount.currency != account.currency:
                raise ValidationFailed(
                    "finance.currency_mismatch", f"Entries of this account are in {account.currency}"
                )
            if entry.amount.minor <= 0 or entry.kind not in ("expense", "income"):
                raise ValidationFailed("finance.amount_not_positive", "Entries have a positive amount and a kind")
            if entry.local_day not in rates:
                rates[entry.local_day] = await self._rate(family, account.currency, entry.local_day)
            rate = rates[entry.local_day]
            signed = entry.amount.minor if entry.kind == "income" else -entry.amount.minor
            category = entry.category_id if categories.get(entry.category_id or 0) == entry.kind else None
            rows.append(
                Transaction(
                    family_id=family.id,
                    kind=entry.kind,
                    account_id=account.id,
                    category_id=category,
                    amount_minor=signed,
                    currency=account.currency,
                    rate_to_base=rate,
                    base_amount_minor=Money(signed, account.currency).convert(rate, family.base_currency).minor,
                    local_date=entry.local_day,
                    note=_note(entry.note),
                    author_id=user_id,
                    source=source,
                    created_at=now,
                    updated_at=now,
                )
            )
        self._session.add_all(rows)
        await self._session.flush()
        self._session.add_all(
            TransactionEdit(
                family_id=family.id,
                transaction_id=row.id,
                action="create",
                user_id=user_id,
                at=now,
                after=snapshot(row),
            )
            for row in rows
        )
        await self._session.flush()
        return len(rows)

    async def transfer(
        self,
        user_id: int,
        family_id: int | None,
        *,
        from_account_id: int,
        to_account_id: int,
        amount: Decimal,
        to_amount: Decimal | None = None,
        local_day: date | None = None,
        note: str = "",
        source: str = "api",
        idempotency_key: str | None = None,
        request_hash: str | None = None,
    ) -> TransferDTO:
        """Two legs: `amount` out of one account, `to_amount` (required across currencies) into the other."""
        family, _ = await self._scope(user_id, family_id, Action.WRITE_OWN)
        claimed, earlier = await self._claim_key(user_id, family, idempotency_key, request_hash)
        if earlier is not None:
            legs = [TransactionDTO.of(row) for row in earlier]
            return TransferDTO(legs[0].transfer_group_id or "", legs[0], legs[-1])
        source_account = await self._account(family, from_account_id)
        target_account = await self._account(family, to_account_id)
        if source_account.id == target_account.id:
            raise ValidationFailed("finance.transfer_same_account", "A transfer needs two different accounts")
        out_money = _amount(amount, source_account.currency)
        if to_amount is None:
            if source_account.currency != target_account.currency:
                raise ValidationFailed("finance.transfer_amount_missing", "Say how much arrives in the other currency")
            in_money = Money(out_money.minor, target_account.currency)
        else:
            in_money = _amount(to_amount, target_account.currency)
        day = local_day or local_date(self._clock.now(), family.time_zone)
        group = str(uuid.uuid4())
        now = self._clock.now()
        rows = []
        for account, money, sign in ((source_account, out_money, -1), (target_account, in_money, 1)):
            rate = await self._rate(family, account.currency, day)
            signed = sign * money.minor
            row = Transaction(
                family_id=family.id,
                kind="transfer",
                account_id=account.id,
                category_id=None,
                amount_minor=signed,
                currency=account.currency,
                rate_to_base=rate,
                base_amount_minor=Money(signed, account.currency).convert(rate, family.base_currency).minor,
                local_date=day,
                note=_note(note),
                author_id=user_id,
                transfer_group_id=group,
                source=source,
                created_at=now,
                updated_at=now,
            )
            await self._repo.add(row)
            await self._record(family.id, row, "create", user_id, None)
            rows.append(row)
        if claimed is not None:
            claimed.transaction_id = rows[0].id
            await self._session.flush()
        return TransferDTO(group, TransactionDTO.of(rows[0]), TransactionDTO.of(rows[1]))

    async def get(self, user_id: int, family_id: int | None, transaction_id: int) -> TransactionDTO:
        family, _ = await self._scope(user_id, family_id, Action.READ)
        row = await self._repo.transaction(family.id, transaction_id)
        if row is None:
            raise transaction_not_found()
        return TransactionDTO.of(row)

    async def history(self, user_id: int, family_id: int | None, transaction_id: int) -> list[dict[str, Any]]:
        family, _ = await self._scope(user_id, family_id, Action.READ)
        rows = await self._repo.edits(family.id, transaction_id)
        if not rows:
            raise transaction_not_found()
        return [
            {"action": r.action, "user_id": r.user_id, "at": r.at, "before": r.before, "after": r.after} for r in rows
        ]

    async def _editable(self, user_id: int, family_id: int | None, transaction_id: int) -> tuple[Family, Transaction]:
        family, member = await self._scope(user_id, family_id, Action.READ)
        row = await self._repo.transaction(family.id, transaction_id)
        if row is None:
            raise transaction_not_found()
        if not may_edit_entry(member.role, user_id=user_id, author_id=row.author_id):
            raise Forbidden("finance.forbidden", "Only the author and admins may change this entry")
        return family, row

    async def update(
        self,
        user_id: int,
        family_id: int | None,
        transaction_id: int,
        *,
        amount: Decimal | None = None,
        account_id: int | None = None,
        category_id: int | None = None,
        clear_category: bool = False,
        local_day: date | None = None,
        note: str | None = None,
    ) -> TransactionDTO:
        family, row = await self._editable(user_id, family_id, transaction_id)
        before = snapshot(row)
        if row.kind == "transfer":
            if account_id is not None or category_id is not None or amount is not None:
                raise ValidationFailed(
                    "finance.transfer_edit", "Change a transfer's date or note, or delete it and enter it again"
                )
            legs = list(await self._repo.transfer_legs(family.id, row.transfer_group_id or ""))
        else:
            legs = [row]
            if account_id is not None:
                account = await self._account(family, account_id)
                if account.currency != row.currency and amount is None:
                    raise ValidationFailed("finance.amount_required", "Give the amount in the new account's currency")
                row.account_id, row.currency = account.id, account.currency
            if clear_category:
                row.category_id = None
            elif category_id is not None:
                row.category_id = await self._category(family, category_id, row.kind)
            if amount is not None:
                magnitude = _amount(amount, row.currency).minor
                row.amount_minor = magnitude if row.kind == "income" else -magnitude
        for leg in legs:
            leg_before = before if leg is row else snapshot(leg)
            if local_day is not None:
                leg.local_date = local_day
            if note is not None:
                leg.note = _note(note)
            rate = await self._rate(family, leg.currency, leg.local_date)
            leg.rate_to_base = rate
            leg.base_amount_minor = Money(leg.amount_minor, leg.currency).convert(rate, family.base_currency).minor
            leg.updated_at = self._clock.now()
            await self._session.flush()
            await self._record(family.id, leg, "update", user_id, leg_before)
        return TransactionDTO.of(row)

    async def delete(self, user_id: int, family_id: int | None, transaction_id: int) -> int:
        """Delete an entry (both legs of a transfer); returns how many rows went."""
        family, row = await self._editable(user_id, family_id, transaction_id)
        legs = (
            list(await self._repo.transfer_legs(family.id, row.transfer_group_id)) if row.transfer_group_id else [row]
        )
        for leg in legs:
            await self._record(family.id, leg, "delete", user_id, snapshot(leg))
            await self._repo.delete_transaction(leg)
        return len(legs)

    async def undo_last(self, user_id: int, family_id: int | None) -> TransactionDTO | None:
        """Delete the user's own latest entry if it was made within the undo window; None when there is none."""
        family, _ = await self._scope(user_id, family_id, Action.WRITE_OWN)
        row = await self._repo.last_authored(family.id, user_id)
        window = self._uow.config(FinanceConfig).undo_window
        if row is None or row.created_at < self._clock.now() - window:
            return None
        found = TransactionDTO.of(row)
        await self.delete(user_id, family.id, row.id)
        return found

    async def day_entries(self, user_id: int, family_id: int | None) -> tuple[date, list[TransactionDTO]]:
        """The family's today and its entries, oldest first."""
        family, _ = await self._scope(user_id, family_id, Action.READ)
        today = local_date(self._clock.now(), family.time_zone)
        page = await self._repo.page(
            family.id, limit=200, date_from=today, date_to=today + timedelta(days=1), oldest_first=True
        )
        return today, [TransactionDTO.of(row) for row in page.rows]

    async def entries(
        self, user_id: int, family_id: int | None, filters: EntryFilter, *, limit: int = 50, cursor: str | None = None
    ) -> EntryPage:
        family, _ = await self._scope(user_id, family_id, Action.READ)
        page = await self._repo.page(
            family.id,
            limit=limit,
            after=decode_cursor(cursor),
            account_id=filters.account_id,
            category_id=filters.category_id,
            date_from=filters.date_from,
            date_to=filters.date_to,
            author_id=filters.author_id,
            kind=filters.kind,
            text=filters.text,
            oldest_first=filters.oldest_first,
        )
        return EntryPage([TransactionDTO.of(row) for row in page.rows], encode_cursor(page.next_cursor))
