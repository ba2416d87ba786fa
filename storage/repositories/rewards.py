"""The points ledger and cooldowns.

Posting is idempotent by key: the unique constraint on the key decides which of several concurrent posts is the
first, and the others get that first transaction back. Balances move by relative updates in the same database
transaction as their entries, guarded so that an account that may not go below zero refuses the whole posting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, or_, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models.rewards import AccountKind, Cooldown, LedgerAccount, LedgerEntry, LedgerTransaction

__all__ = [
    "CooldownRepository",
    "IdempotencyConflict",
    "InsufficientBalance",
    "LedgerError",
    "LedgerRepository",
    "Posted",
    "UnknownAccount",
]

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


class LedgerError(Exception):
    """A posting was refused; nothing of it was written."""


class UnknownAccount(LedgerError):
    def __init__(self, account_id: int) -> None:
        super().__init__(f"ledger account {account_id} does not exist")
        self.account_id = account_id


class InsufficientBalance(LedgerError):
    def __init__(self, account_id: int) -> None:
        super().__init__(f"ledger account {account_id} may not go below zero")
        self.account_id = account_id


class IdempotencyConflict(LedgerError):
    """The key is taken by a transaction of another kind or with other entries: a caller reused a key by mistake."""

    def __init__(self, idempotency_key: str) -> None:
        super().__init__("idempotency key already used for a different transaction")
        self.idempotency_key = idempotency_key


@dataclass(frozen=True, slots=True)
class Posted:
    transaction: LedgerTransaction
    # False when the key had been posted before and this is that earlier transaction.
    created: bool


class LedgerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- accounts ------------------------------------------------------------------------------------------

    async def user_account(self, user_id: int) -> LedgerAccount:
        """The user's points account, created on first use."""
        return await self._account(AccountKind.USER_POINTS, user_id, allow_negative=False)

    async def pool(self, kind: AccountKind) -> LedgerAccount:
        """The one account of a pool kind, created on first use."""
        if kind is AccountKind.USER_POINTS:
            raise ValueError("user accounts belong to a user; use user_account()")
        return await self._account(kind, None, allow_negative=True)

    async def _account(self, kind: AccountKind, user_id: int | None, *, allow_negative: bool) -> LedgerAccount:
        found = await self._find_account(kind, user_id)
        if found is not None:
            return found
        account = LedgerAccount(kind=kind.value, user_id=user_id, allow_negative=allow_negative, balance=0)
        try:
            async with self.session.begin_nested():
                self.session.add(account)
                await self.session.flush()
        except IntegrityError:
            # Created concurrently by another transaction, which has committed by now.
            found = await self._find_account(kind, user_id)
            if found is None:
                raise
            return found
        return account

    async def _find_account(self, kind: AccountKind, user_id: int | None) -> LedgerAccount | None:
        owner = LedgerAccount.user_id.is_(None) if user_id is None else LedgerAccount.user_id == user_id
        result = await self.session.execute(select(LedgerAccount).where(LedgerAccount.kind == kind.value, owner))
        return result.scalar_one_or_none()

    async def find_user_account(self, user_id: int) -> LedgerAccount | None:
        """The user's points account if it exists; never creates one (read-only units of work use this)."""
        return await self._find_account(AccountKind.USER_POINTS, user_id)

    async def close_user_account(self, account: LedgerAccount) -> None:
        """Detach an emptied account from its user, whose row is about to go; its entries stay as history.

        The account keeps no user, so it takes a kind of its own (the pools' partial unique index is on kind
        where there is no user)."""
        if account.kind != AccountKind.USER_POINTS.value:
            raise ValueError("only a user's points account is closed this way")
        if await self.balance(account.id) != 0:
            raise ValueError("an account is closed only once its balance has been moved")
        await self.session.execute(
            update(LedgerAccount)
            .where(LedgerAccount.id == account.id)
            .values(user_id=None, kind=f"closed:{account.id}")
            .execution_options(synchronize_session="fetch")
        )

    async def balance(self, account_id: int, *, for_update: bool = False) -> int:
        """The cached balance as the database holds it now (never a stale copy from the session); ``for_update``
        locks the row until the transaction ends (PostgreSQL; SQLite's write transactions are serial anyway)."""
        query = select(LedgerAccount.balance).where(LedgerAccount.id == account_id)
        result = await self.session.execute(query.with_for_update() if for_update else query)
        value = result.scalar_one_or_none()
        if value is None:
            raise UnknownAccount(account_id)
        return int(value)

    # --- posting -------------------------------------------------------------------------------------------

    async def post(
        self,
        *,
        kind: str,
        idempotency_key: str,
        entries: Mapping[int, int],
        created_at: datetime,
        memo: Mapping[str, Any] | None = None,
    ) -> Posted:
        """Record one movement: ``entries`` maps account ids to signed amounts that add up to zero.

        A key posted before returns that transaction (``created`` False) and writes nothing; the same key with
        another kind or other entries raises IdempotencyConflict. UnknownAccount and InsufficientBalance leave
        nothing written, and the caller's transaction usable.
        """
        _check_entries(kind, idempotency_key, entries)
        transaction = LedgerTransaction(
            kind=kind, idempotency_key=idempotency_key, created_at=created_at, memo=dict(memo or {})
        )
        try:
            async with self.session.begin_nested():
                self.session.add(transaction)
                # The unique key is the arbiter: a second post of the key fails here, whoever checked first.
                await self.session.flush()
                await self._apply(transaction.id, entries)
        except IntegrityError:
            existing = await self.transaction_by_key(idempotency_key)
            if existing is None:
                raise
            if existing.kind != kind or await self.entries_by_account(existing.id) != dict(entries):
                raise IdempotencyConflict(idempotency_key) from None
            return Posted(existing, created=False)
        return Posted(transaction, created=True)

    async def _apply(self, transaction_id: int, entries: Mapping[int, int]) -> None:
        # Accounts in id order, so that concurrent postings on PostgreSQL lock rows in one order.
        for account_id, amount in sorted(entries.items()):
            new_balance = LedgerAccount.balance + amount
            result = await self.session.execute(
                update(LedgerAccount)
                .where(LedgerAccount.id == account_id, or_(LedgerAccount.allow_negative, new_balance >= 0))
                .values(balance=new_balance)
                .execution_options(synchronize_session="fetch")
            )
            if getattr(result, "rowcount", 0) != 1:
                exists = await self.session.execute(select(LedgerAccount.id).where(LedgerAccount.id == account_id))
                if exists.first() is None:
                    raise UnknownAccount(account_id)
                raise InsufficientBalance(account_id)
        await self.session.execute(
            insert(LedgerEntry),
            [
                {"transaction_id": transaction_id, "account_id": account_id, "amount": amount}
                for account_id, amount in sorted(entries.items())
            ],
        )

    # --- reading -------------------------------------------------------------------------------------------

    async def transaction_by_key(self, idempotency_key: str) -> LedgerTransaction | None:
        result = await self.session.execute(
            select(LedgerTransaction).where(LedgerTransaction.idempotency_key == idempotency_key)
        )
        return result.scalar_one_or_none()

    async def entries_by_account(self, transaction_id: int) -> dict[int, int]:
        result = await self.session.execute(
            select(LedgerEntry.account_id, LedgerEntry.amount).where(LedgerEntry.transaction_id == transaction_id)
        )
        return {account_id: amount for account_id, amount in result.all()}

    async def history(
        self, account_id: int, *, limit: int = 50, before_entry_id: int | None = None
    ) -> Sequence[tuple[LedgerEntry, LedgerTransaction]]:
        """The account's entries with their transactions, newest first; page with the last entry id seen."""
        query = (
            select(LedgerEntry, LedgerTransaction)
            .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
            .where(LedgerEntry.account_id == account_id)
            .order_by(LedgerEntry.id.desc())
            .limit(limit)
        )
        if before_entry_id is not None:
            query = query.where(LedgerEntry.id < before_entry_id)
        result = await self.session.execute(query)
        return [(entry, transaction) for entry, transaction in result.all()]

    async def balance_mismatches(self) -> list[tuple[int, int, int]]:
        """(account id, cached balance, sum of its entries) for every account where the two differ."""
        sums = (
            select(LedgerEntry.account_id, func.sum(LedgerEntry.amount).label("total"))
            .group_by(LedgerEntry.account_id)
            .subquery()
        )
        recomputed = func.coalesce(sums.c.total, 0)
        result = await self.session.execute(
            select(LedgerAccount.id, LedgerAccount.balance, recomputed)
            .outerjoin(sums, sums.c.account_id == LedgerAccount.id)
            .where(LedgerAccount.balance != recomputed)
            .order_by(LedgerAccount.id)
        )
        return [(int(account_id), int(cached), int(total)) for account_id, cached, total in result.all()]

    async def unbalanced_transactions(self) -> list[int]:
        """Ids of transactions whose entries do not add up to zero; empty unless something bypassed post()."""
        result = await self.session.execute(
            select(LedgerEntry.transaction_id)
            .group_by(LedgerEntry.transaction_id)
            .having(func.sum(LedgerEntry.amount) != 0)
            .order_by(LedgerEntry.transaction_id)
        )
        return [int(transaction_id) for transaction_id in result.scalars()]


def _check_entries(kind: str, idempotency_key: str, entries: Mapping[int, int]) -> None:
    if not kind or len(kind) > 32:
        raise ValueError("transaction kind must be 1-32 characters")
    if not idempotency_key or len(idempotency_key) > 200:
        raise ValueError("idempotency key must be 1-200 characters")
    if len(entries) < 2:
        raise ValueError("a transaction moves points between at least two accounts")
    for amount in entries.values():
        if amount == 0 or not _INT64_MIN <= amount <= _INT64_MAX:
            raise ValueError("entry amounts must be non-zero signed 64-bit integers")
    if sum(entries.values()) != 0:
        raise ValueError("entry amounts must add up to zero")


class CooldownRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def active(self, user_id: int, now: datetime) -> Sequence[Cooldown]:
        """The user's cooldowns that have not ended at ``now``, by action."""
        result = await self.session.execute(
            select(Cooldown)
            .where(Cooldown.user_id == user_id, Cooldown.until > now)
            .order_by(Cooldown.action)
            # set_or_extend writes past the session; rows it already holds must be read again.
            .execution_options(populate_existing=True)
        )
        return result.scalars().all()

    async def until(self, user_id: int, action: str, now: datetime) -> datetime | None:
        """When the action's cooldown ends, or None when there is none at ``now``."""
        result = await self.session.execute(
            select(Cooldown.until).where(Cooldown.user_id == user_id, Cooldown.action == action, Cooldown.until > now)
        )
        return result.scalar_one_or_none()

    async def set_or_extend(self, user_id: int, action: str, until: datetime) -> datetime:
        """Make the cooldown last at least until ``until`` (never shortened); returns when it now ends.

        One statement, so two concurrent calls both take effect and the later end wins.
        """
        dialect = self.session.get_bind().dialect.name
        if dialect == "sqlite":
            upsert: Any = sqlite.insert(Cooldown)
        elif dialect == "postgresql":
            upsert = postgresql.insert(Cooldown)
        else:
            raise NotImplementedError(f"cooldown upsert on {dialect}")
        statement = upsert.values(user_id=user_id, action=action, until=until)
        later: ColumnElement[Any] = func.max(Cooldown.until, statement.excluded.until)
        if dialect == "postgresql":
            later = func.greatest(Cooldown.until, statement.excluded.until)
        statement = statement.on_conflict_do_update(
            index_elements=[Cooldown.user_id, Cooldown.action], set_={"until": later}
        ).returning(Cooldown.until)
        result = await self.session.execute(statement)
        ends: datetime = result.scalar_one()
        return ends

    async def clear(self, user_id: int, action: str) -> bool:
        """End a cooldown now; False when there was none."""
        result = await self.session.execute(
            delete(Cooldown)
            .where(Cooldown.user_id == user_id, Cooldown.action == action)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    async def purge_expired(self, now: datetime, batch: int) -> int:
        """Delete up to ``batch`` cooldowns that ended at or before ``now``; returns how many went."""
        due = (
            select(Cooldown.user_id, Cooldown.action).where(Cooldown.until <= now).order_by(Cooldown.until).limit(batch)
        )
        keys = (await self.session.execute(due)).all()
        if not keys:
            return 0
        result = await self.session.execute(
            delete(Cooldown)
            # The end is checked again: a cooldown extended since the select stays.
            .where(tuple_(Cooldown.user_id, Cooldown.action).in_([tuple(key) for key in keys]), Cooldown.until <= now)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0))
