"""What the finance services return: plain frozen values, no database rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from core.finance.money import Money
from storage.models.finance import Account, Category, Family, FamilyInvite, FamilyMember, Transaction


@dataclass(frozen=True, slots=True)
class FamilyDTO:
    id: int
    name: str
    base_currency: str
    time_zone: str
    role: str
    active: bool

    @classmethod
    def of(cls, family: Family, role: str, *, active: bool) -> FamilyDTO:
        return cls(family.id, family.name, family.base_currency, family.time_zone, role, active)


@dataclass(frozen=True, slots=True)
class MemberDTO:
    user_id: int
    name: str
    role: str
    joined_at: datetime

    @classmethod
    def of(cls, row: FamilyMember, name: str) -> MemberDTO:
        return cls(row.user_id, name, row.role, row.joined_at)


@dataclass(frozen=True, slots=True)
class InviteDTO:
    id: int
    family_id: int
    role: str
    max_uses: int
    uses: int
    expires_at: datetime
    revoked: bool

    @classmethod
    def of(cls, row: FamilyInvite) -> InviteDTO:
        return cls(row.id, row.family_id, row.role, row.max_uses, row.uses, row.expires_at, row.revoked_at is not None)


@dataclass(frozen=True, slots=True)
class IssuedInvite:
    invite: InviteDTO
    # Shown once: only its hash is stored.
    code: str
    link: str | None


@dataclass(frozen=True, slots=True)
class AccountDTO:
    id: int
    family_id: int
    name: str
    kind: str
    currency: str
    opening_balance_minor: int
    balance_minor: int
    archived: bool

    @classmethod
    def of(cls, row: Account, balance: int) -> AccountDTO:
        return cls(
            row.id, row.family_id, row.name, row.kind, row.currency, row.opening_balance_minor, balance, row.archived
        )

    @property
    def balance(self) -> Money:
        return Money(self.balance_minor, self.currency)


@dataclass(frozen=True, slots=True)
class CategoryDTO:
    id: int
    family_id: int
    kind: str
    name: str
    emoji: str | None
    parent_id: int | None
    archived: bool

    @classmethod
    def of(cls, row: Category) -> CategoryDTO:
        return cls(row.id, row.family_id, row.kind, row.name, row.emoji, row.parent_id, row.archived)

    @property
    def label(self) -> str:
        return f"{self.emoji} {self.name}" if self.emoji else self.name


@dataclass(frozen=True, slots=True)
class TransactionDTO:
    id: int
    family_id: int
    kind: str
    account_id: int
    category_id: int | None
    amount_minor: int
    currency: str
    rate_to_base: Decimal
    base_amount_minor: int
    local_date: date
    note: str
    author_id: int | None
    transfer_group_id: str | None
    source: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Transaction) -> TransactionDTO:
        return cls(
            row.id,
            row.family_id,
            row.kind,
            row.account_id,
            row.category_id,
            row.amount_minor,
            row.currency,
            row.rate_to_base,
            row.base_amount_minor,
            row.local_date,
            row.note,
            row.author_id,
            row.transfer_group_id,
            row.source,
            row.created_at,
            row.updated_at,
        )

    @property
    def amount(self) -> Money:
        return Money(self.amount_minor, self.currency)


@dataclass(frozen=True, slots=True)
class RateDTO:
    """One unit of `currency` is worth `rate` of `base_currency` from `rate_date` on."""

    family_id: int
    currency: str
    base_currency: str
    rate: Decimal
    rate_date: date


@dataclass(frozen=True, slots=True)
class RateList:
    family_id: int
    base_currency: str
    items: list[RateDTO]


@dataclass(frozen=True, slots=True)
class TransferDTO:
    transfer_group_id: str
    out_leg: TransactionDTO
    in_leg: TransactionDTO


@dataclass(frozen=True, slots=True)
class EntryPage:
    items: list[TransactionDTO]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class SummaryGroup:
    key: str
    label: str
    kind: str
    total_minor: int
    count: int


@dataclass(frozen=True, slots=True)
class SummaryDTO:
    family_id: int
    start: date
    end: date
    base_currency: str
    income_minor: int
    expense_minor: int
    group_by: str
    groups: list[SummaryGroup]
