"""Queries on family finance. Every lookup of a family's row takes the family id and filters by it, so an id taken
from a request can never reach another family's data. Repositories flush but never commit: the unit of work does."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import and_, delete, func, literal, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models.base import Base
from storage.models.finance import (
    Account,
    Category,
    ExchangeRate,
    Family,
    FamilyInvite,
    FamilyMember,
    FinancePreference,
    IdempotencyKey,
    KeywordAlias,
    Transaction,
    TransactionEdit,
    name_key,
)

MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class LedgerCursor:
    """Where a newest-first page ended: the last row's day and id. The next page starts strictly after it."""

    local_date: date
    id: int


@dataclass(frozen=True, slots=True)
class LedgerPage:
    rows: list[Transaction]
    next_cursor: LedgerCursor | None


@dataclass(frozen=True, slots=True)
class SummaryRow:
    kind: str
    category_id: int | None
    base_total_minor: int
    count: int


@dataclass(frozen=True, slots=True)
class EntryKey:
    """What CSV duplicate detection compares: day, signed amount and currency, note."""

    local_date: date
    amount_minor: int
    currency: str
    note: str


class FinanceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: Base) -> None:
        """Insert any finance row and flush, so its generated id is known."""
        self.session.add(row)
        await self.session.flush()

    # --- families and members ------------------------------------------------------------------------------

    async def family(self, family_id: int) -> Family | None:
        return await self.session.get(Family, family_id)

    async def families_of(self, user_id: int) -> list[tuple[Family, str]]:
        """The families a user belongs to, with the user's role in each, oldest membership first."""
        result = await self.session.execute(
            select(Family, FamilyMember.role)
            .join(FamilyMember, FamilyMember.family_id == Family.id)
            .where(FamilyMember.user_id == user_id)
            .order_by(FamilyMember.joined_at, Family.id)
        )
        return [(family, role) for family, role in result]

    async def member(self, family_id: int, user_id: int) -> FamilyMember | None:
        result = await self.session.execute(
            select(FamilyMember).where(FamilyMember.family_id == family_id, FamilyMember.user_id == user_id)
        )
        return result.scalar_one_or_none()

    async def members(self, family_id: int) -> Sequence[FamilyMember]:
        result = await self.session.execute(
            select(FamilyMember).where(FamilyMember.family_id == family_id).order_by(FamilyMember.id)
        )
        return result.scalars().all()

    # --- invites -------------------------------------------------------------------------------------------

    async def invite_by_hash(self, code_hash: str) -> FamilyInvite | None:
        result = await self.session.execute(select(FamilyInvite).where(FamilyInvite.code_hash == code_hash))
        return result.scalar_one_or_none()

    async def invite(self, family_id: int, invite_id: int) -> FamilyInvite | None:
        result = await self.session.execute(
            select(FamilyInvite).where(FamilyInvite.family_id == family_id, FamilyInvite.id == invite_id)
        )
        return result.scalar_one_or_none()

    async def claim_invite(self, invite_id: int, now: datetime) -> bool:
        """Count one use, atomically; False when the invite is used up, revoked or expired by now."""
        result = await self.session.execute(
            update(FamilyInvite)
            .where(
                FamilyInvite.id == invite_id,
                FamilyInvite.uses < FamilyInvite.max_uses,
                FamilyInvite.revoked_at.is_(None),
                FamilyInvite.expires_at > now,
            )
            .values(uses=FamilyInvite.uses + 1)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    # --- accounts, categories, aliases ---------------------------------------------------------------------

    async def account(self, family_id: int, account_id: int) -> Account | None:
        result = await self.session.execute(
            select(Account).where(Account.family_id == family_id, Account.id == account_id)
        )
        return result.scalar_one_or_none()

    async def account_by_name(self, family_id: int, name: str) -> Account | None:
        result = await self.session.execute(
            select(Account).where(Account.family_id == family_id, Account.name_key == name_key(name))
        )
        return result.scalar_one_or_none()

    async def accounts(self, family_id: int, *, include_archived: bool = False) -> Sequence[Account]:
        query = select(Account).where(Account.family_id == family_id)
        if not include_archived:
            query = query.where(Account.archived.is_(False))
        return (await self.session.execute(query.order_by(Account.name_key, Account.id))).scalars().all()

    async def category(self, family_id: int, category_id: int) -> Category | None:
        result = await self.session.execute(
            select(Category).where(Category.family_id == family_id, Category.id == category_id)
        )
        return result.scalar_one_or_none()

    async def category_by_name(self, family_id: int, kind: str, name: str) -> Category | None:
        result = await self.session.execute(
            select(Category).where(
                Category.family_id == family_id, Category.kind == kind, Category.name_key == name_key(name)
            )
        )
        return result.scalar_one_or_none()

    async def categories(
        self, family_id: int, *, kind: str | None = None, include_archived: bool = False
    ) -> Sequence[Category]:
        query = select(Category).where(Category.family_id == family_id)
        if kind is not None:
            query = query.where(Category.kind == kind)
        if not include_archived:
            query = query.where(Category.archived.is_(False))
        return (await self.session.execute(query.order_by(Category.name_key, Category.id))).scalars().all()

    async def aliases(self, family_id: int) -> dict[str, int]:
        """keyword -> category id, as quick entry's category guess takes them."""
        result = await self.session.execute(
            select(KeywordAlias.keyword, KeywordAlias.category_id).where(KeywordAlias.family_id == family_id)
        )
        return {keyword: category_id for keyword, category_id in result}

    async def alias(self, family_id: int, keyword: str) -> KeywordAlias | None:
        result = await self.session.execute(
            select(KeywordAlias).where(KeywordAlias.family_id == family_id, KeywordAlias.keyword == keyword)
        )
        return result.scalar_one_or_none()

    async def remove(self, row: Base) -> None:
        await self.session.delete(row)
        await self.session.flush()

    async def categorised_notes(self, family_id: int, *, limit: int = 500) -> list[tuple[str, int]]:
        """(note, category id) of the newest categorised entries: what the category guess learns from."""
        result = await self.session.execute(
            select(Transaction.note, Transaction.category_id)
            .where(Transaction.family_id == family_id, Transaction.category_id.is_not(None), Transaction.note != "")
            .order_by(Transaction.local_date.desc(), Transaction.id.desc())
            .limit(limit)
        )
        return [(note, category_id) for note, category_id in result if category_id is not None]

    # --- exchange rates ------------------------------------------------------------------------------------

    async def rate_of_day(self, family_id: int, currency: str, day: date) -> ExchangeRate | None:
        """The rate entered for exactly that day, locked for a correction (PostgreSQL; SQLite locks the database)."""
        result = await self.session.execute(
            select(ExchangeRate)
            .where(
                ExchangeRate.family_id == family_id, ExchangeRate.currency == currency, ExchangeRate.rate_date == day
            )
            .with_for_update()
        )
        return result.scalar_one_or_none()

    async def rate_on(self, family_id: int, currency: str, day: date) -> Decimal | None:
        """The family's rate for the currency on that day, or the latest one before it; None if it has none."""
        result = await self.session.execute(
            select(ExchangeRate.rate)
            .where(
                ExchangeRate.family_id == family_id, ExchangeRate.currency == currency, ExchangeRate.rate_date <= day
            )
            .order_by(ExchangeRate.rate_date.desc())
            .limit(1)
        )
        return result.scalar_one_or_none()

    async def latest_rates(self, family_id: int) -> Sequence[ExchangeRate]:
        """Per currency, the family's rate with the latest date; ordered by currency."""
        latest = (
            select(ExchangeRate.currency, func.max(ExchangeRate.rate_date).label("rate_date"))
            .where(ExchangeRate.family_id == family_id)
            .group_by(ExchangeRate.currency)
            .subquery()
        )
        result = await self.session.execute(
            select(ExchangeRate)
            .join(
                latest,
                and_(ExchangeRate.currency == latest.c.currency, ExchangeRate.rate_date == latest.c.rate_date),
            )
            .where(ExchangeRate.family_id == family_id)
            .order_by(ExchangeRate.currency)
        )
        return result.scalars().all()

    # --- transactions --------------------------------------------------------------------------------------

    async def transaction(self, family_id: int, transaction_id: int) -> Transaction | None:
        result = await self.session.execute(
            select(Transaction).where(Transaction.family_id == family_id, Transaction.id == transaction_id)
        )
        return result.scalar_one_or_none()

    async def transfer_legs(self, family_id: int, transfer_group_id: str) -> Sequence[Transaction]:
        result = await self.session.execute(
            select(Transaction)
            .where(Transaction.family_id == family_id, Transaction.transfer_group_id == transfer_group_id)
            .order_by(Transaction.amount_minor, Transaction.id)
        )
        return result.scalars().all()

    async def delete_transaction(self, row: Transaction) -> None:
        await self.session.delete(row)
        await self.session.flush()

    async def page(
        self,
        family_id: int,
        *,
        limit: int = 50,
        after: LedgerCursor | None = None,
        account_id: int | None = None,
        category_id: int | None = None,
        date_from: date | None = None,
        date_to: date | None = None,
        author_id: int | None = None,
        kind: str | None = None,
        text: str | None = None,
        oldest_first: bool = False,
    ) -> LedgerPage:
        """Newest first by (day, id) (or oldest first); `date_to` is exclusive. Rows added or removed between pages
        shift nothing: the cursor names a position, not an offset."""
        limit = max(1, min(limit, MAX_PAGE))
        query = select(Transaction).where(Transaction.family_id == family_id)
        # A row-value comparison, which both databases answer from the (family, day, id) index.
        position = tuple_(Transaction.local_date, Transaction.id)
        if after is not None and oldest_first:
            query = query.where(position > tuple_(literal(after.local_date), literal(after.id)))
        elif after is not None:
            query = query.where(position < tuple_(literal(after.local_date), literal(after.id)))
        if author_id is not None:
            query = query.where(Transaction.author_id == author_id)
        if kind is not None:
            query = query.where(Transaction.kind == kind)
        if text:
            escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(func.lower(Transaction.note).like(f"%{escaped}%", escape="\\"))
        if account_id is not None:
            query = query.where(Transaction.account_id == account_id)
        if category_id is not None:
            query = query.where(Transaction.category_id == category_id)
        if date_from is not None:
            query = query.where(Transaction.local_date >= date_from)
        if date_to is not None:
            query = query.where(Transaction.local_date < date_to)
        if oldest_first:
            query = query.order_by(Transaction.local_date, Transaction.id).limit(limit + 1)
        else:
            query = query.order_by(Transaction.local_date.desc(), Transaction.id.desc()).limit(limit + 1)
        rows = list((await self.session.execute(query)).scalars().all())
        if len(rows) <= limit:
            return LedgerPage(rows, None)
        rows = rows[:limit]
        return LedgerPage(rows, LedgerCursor(rows[-1].local_date, rows[-1].id))

    async def summary(self, family_id: int, start: date, end: date) -> list[SummaryRow]:
        """Expenses and incomes of [start, end) per kind and category, in the base currency; transfers left out.

        Largest spending first (expenses are negative), then incomes from the largest.
        """
        total = func.sum(Transaction.base_amount_minor)
        result = await self.session.execute(
            select(Transaction.kind, Transaction.category_id, total, func.count())
            .where(
                Transaction.family_id == family_id,
                Transaction.local_date >= start,
                Transaction.local_date < end,
                Transaction.kind.in_(("expense", "income")),
            )
            .group_by(Transaction.kind, Transaction.category_id)
        )
        rows = [SummaryRow(kind, category, int(amount), int(count)) for kind, category, amount, count in result]
        return sorted(rows, key=lambda r: (r.kind, r.base_total_minor if r.kind == "expense" else -r.base_total_minor))

    async def daily_totals(self, family_id: int, start: date, end: date, *, kind: str) -> list[tuple[date, int]]:
        """Sum per day of [start, end) of one kind, in the base currency, days without entries left out."""
        result = await self.session.execute(
            select(Transaction.local_date, func.sum(Transaction.base_amount_minor))
            .where(
                Transaction.family_id == family_id,
                Transaction.kind == kind,
                Transaction.local_date >= start,
                Transaction.local_date < end,
            )
            .group_by(Transaction.local_date)
            .order_by(Transaction.local_date)
        )
        return [(day, int(amount)) for day, amount in result]

    async def balances(self, family_id: int) -> dict[int, int]:
        """account id -> opening balance plus every entry, in the account's own currency."""
        moved = (
            select(Transaction.account_id, func.sum(Transaction.amount_minor).label("moved"))
            .where(Transaction.family_id == family_id)
            .group_by(Transaction.account_id)
            .subquery()
        )
        result = await self.session.execute(
            select(Account.id, Account.opening_balance_minor + func.coalesce(moved.c.moved, 0))
            .outerjoin(moved, moved.c.account_id == Account.id)
            .where(Account.family_id == family_id)
        )
        return {account_id: int(balance) for account_id, balance in result}

    async def entry_keys(self, family_id: int, start: date, end: date) -> list[EntryKey]:
        """Day, amount, currency and note of the entries of [start, end): what an import is checked against."""
        result = await self.session.execute(
            select(Transaction.local_date, Transaction.amount_minor, Transaction.currency, Transaction.note).where(
                Transaction.family_id == family_id, Transaction.local_date >= start, Transaction.local_date < end
            )
        )
        return [EntryKey(*row) for row in result]

    # --- history and idempotency ---------------------------------------------------------------------------

    async def edits(self, family_id: int, transaction_id: int) -> Sequence[TransactionEdit]:
        result = await self.session.execute(
            select(TransactionEdit)
            .where(TransactionEdit.family_id == family_id, TransactionEdit.transaction_id == transaction_id)
            .order_by(TransactionEdit.id)
        )
        return result.scalars().all()

    async def idempotency_key(self, user_id: int, key: str) -> IdempotencyKey | None:
        result = await self.session.execute(
            select(IdempotencyKey).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
        )
        return result.scalar_one_or_none()

    async def purge_idempotency_keys(self, before: datetime) -> int:
        """Forget keys created before `before`; returns how many (for the maintenance job's log)."""
        result = await self.session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < before))
        return int(getattr(result, "rowcount", 0))

    # --- service-layer additions: invites, preferences, reports per member, moving a user's records -------------

    async def invites(self, family_id: int) -> Sequence[FamilyInvite]:
        result = await self.session.execute(
            select(FamilyInvite).where(FamilyInvite.family_id == family_id).order_by(FamilyInvite.id)
        )
        return result.scalars().all()

    async def owners(self, family_id: int) -> int:
        result = await self.session.execute(
            select(func.count())
            .select_from(FamilyMember)
            .where(FamilyMember.family_id == family_id, FamilyMember.role == "owner")
        )
        return int(result.scalar_one())

    async def remove_member(self, row: FamilyMember) -> None:
        await self.session.delete(row)
        await self.session.flush()

    async def preference(self, user_id: int) -> FinancePreference | None:
        return await self.session.get(FinancePreference, user_id)

    async def set_active_family(self, user_id: int, family_id: int | None) -> None:
        row = await self.session.get(FinancePreference, user_id)
        if row is None:
            self.session.add(FinancePreference(user_id=user_id, active_family_id=family_id))
        else:
            row.active_family_id = family_id
        await self.session.flush()

    async def summary_by(
        self, family_id: int, start: date, end: date, *, by: str
    ) -> list[tuple[int | date | None, str, int, int]]:
        """(author id or day, kind, base total, count) of [start, end), transfers left out; `by` is member or day."""
        column = Transaction.author_id if by == "member" else Transaction.local_date
        result = await self.session.execute(
            select(column, Transaction.kind, func.sum(Transaction.base_amount_minor), func.count())
            .where(
                Transaction.family_id == family_id,
                Transaction.local_date >= start,
                Transaction.local_date < end,
                Transaction.kind.in_(("expense", "income")),
            )
            .group_by(column, Transaction.kind)
            .order_by(column, Transaction.kind)
        )
        return [(key, kind, int(total), int(count)) for key, kind, total, count in result]

    async def last_authored(self, family_id: int, user_id: int) -> Transaction | None:
        result = await self.session.execute(
            select(Transaction)
            .where(Transaction.family_id == family_id, Transaction.author_id == user_id)
            .order_by(Transaction.created_at.desc(), Transaction.id.desc())
            .limit(1)
        )
        return result.scalar_one_or_none()

    async def count_in_category(self, family_id: int, category_id: int) -> int:
        result = await self.session.execute(
            select(func.count())
            .select_from(Transaction)
            .where(Transaction.family_id == family_id, Transaction.category_id == category_id)
        )
        return int(result.scalar_one())

    async def move_category(self, family_id: int, source_id: int, target_id: int) -> int:
        """Point the source category's entries, aliases and children at the target; returns the entries moved."""
        moved = await self.session.execute(
            update(Transaction)
            .where(Transaction.family_id == family_id, Transaction.category_id == source_id)
            .values(category_id=target_id)
            .execution_options(synchronize_session=False)
        )
        await self.session.execute(
            update(KeywordAlias)
            .where(KeywordAlias.family_id == family_id, KeywordAlias.category_id == source_id)
            .values(category_id=target_id)
            .execution_options(synchronize_session=False)
        )
        await self.session.execute(
            update(Category)
            .where(Category.family_id == family_id, Category.parent_id == source_id)
            .values(parent_id=target_id)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(moved, "rowcount", 0))

    async def memberships_of(self, user_id: int) -> Sequence[FamilyMember]:
        result = await self.session.execute(select(FamilyMember).where(FamilyMember.user_id == user_id))
        return result.scalars().all()

    async def move_user(self, old_user_id: int, new_user_id: int) -> None:
        """Credit every record `old_user_id` authored or created to `new_user_id` (memberships are the caller's)."""
        for model, column in (
            (Transaction, Transaction.author_id),
            (TransactionEdit, TransactionEdit.user_id),
            (FamilyInvite, FamilyInvite.created_by_id),
            (Family, Family.created_by_id),
            (ExchangeRate, ExchangeRate.created_by_id),
        ):
            await self.session.execute(
                update(model)
                .where(column == old_user_id)
                .values({column.key: new_user_id})
                .execution_options(synchronize_session=False)
            )
        taken = select(IdempotencyKey.key).where(IdempotencyKey.user_id == new_user_id).scalar_subquery()
        await self.session.execute(
            delete(IdempotencyKey).where(IdempotencyKey.user_id == old_user_id, IdempotencyKey.key.in_(taken))
        )
        await self.session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.user_id == old_user_id)
            .values(user_id=new_user_id)
            .execution_options(synchronize_session=False)
        )
        await self.session.flush()
