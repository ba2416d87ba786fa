"""Request and response bodies of the finance routes. Amounts are decimal strings in, minor units and plain strings
out: no float ever carries money."""

from __future__ import annotations

import datetime as dt
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from webserver.schemas.inputs import InputModel

DB_ID = 2**31 - 1
Id = Field(ge=1, le=DB_ID)
AMOUNT = r"^\d{1,15}(\.\d{1,6})?$"
Role = Literal["owner", "admin", "member", "viewer"]
AccountKind = Literal["cash", "card", "bank", "savings", "credit"]
CategoryKind = Literal["expense", "income"]


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- families -----------------------------------------------------------------------------------------------------


class FamilyIn(InputModel):
    name: str = Field(min_length=1, max_length=100)
    base_currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$", description="ISO 4217; the default's")
    time_zone: str | None = Field(default=None, min_length=1, max_length=64, description="IANA name")


class FamilyPatch(InputModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    base_currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$", description="Owners only; before entries")
    time_zone: str | None = Field(default=None, min_length=1, max_length=64)


class FamilyOut(_Out):
    id: int
    name: str
    base_currency: str
    time_zone: str
    role: str
    active: bool


class FamilyList(BaseModel):
    items: list[FamilyOut]


class MemberOut(_Out):
    user_id: int
    name: str
    role: str
    joined_at: datetime


class MemberList(BaseModel):
    items: list[MemberOut]


class RoleIn(InputModel):
    role: Role


class InviteIn(InputModel):
    role: Literal["admin", "member", "viewer"] = "member"
    max_uses: int = Field(default=1, ge=1, le=1000)
    ttl_hours: int | None = Field(default=None, ge=1, le=24 * 365, description="Default: the server's")


class InviteOut(_Out):
    id: int
    family_id: int
    role: str
    max_uses: int
    uses: int
    expires_at: datetime
    revoked: bool


class IssuedInviteOut(BaseModel):
    invite: InviteOut
    code: str = Field(description="Shown once; only its hash is stored")
    link: str | None = Field(description="t.me deep link, when the bot's name is known")


class InviteList(BaseModel):
    items: list[InviteOut]


# --- accounts and categories -------------------------------------------------------------------------------------


class FamilyQuery(InputModel):
    family_id: int | None = Field(
        default=None, ge=1, le=DB_ID, description="Default: the active family (on first use, one made for the caller)"
    )


class ListQuery(FamilyQuery):
    include_archived: bool = False


class AccountIn(InputModel):
    name: str = Field(min_length=1, max_length=64)
    kind: AccountKind = "cash"
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$", description="Default: the base currency")
    opening_balance: str = Field(default="0", pattern=r"^-?\d{1,15}(\.\d{1,6})?$")


class AccountPatch(InputModel):
    name: str | None = Field(default=None, min_length=1, max_length=64)
    kind: AccountKind | None = None
    archived: bool | None = None


class AccountOut(_Out):
    id: int
    family_id: int
    name: str
    kind: str
    currency: str
    opening_balance_minor: int
    balance_minor: int
    archived: bool


class AccountList(BaseModel):
    items: list[AccountOut]


class CategoryIn(InputModel):
    name: str = Field(min_length=1, max_length=64)
    kind: CategoryKind = "expense"
    emoji: str | None = Field(default=None, max_length=16)
    parent_id: int | None = Field(default=None, ge=1, le=DB_ID)


class CategoryPatch(InputModel):
    name: str | None = Field(default=None, min_length=1, max_length=64)
    emoji: str | None = Field(default=None, max_length=16)
    archived: bool | None = None


class MergeIn(InputModel):
    into_id: int = Field(ge=1, le=DB_ID, description="The category that receives the entries")


class CategoryOut(_Out):
    id: int
    family_id: int
    kind: str
    name: str
    emoji: str | None
    parent_id: int | None
    archived: bool


class CategoryList(BaseModel):
    items: list[CategoryOut]


class KeywordIn(InputModel):
    category_id: int = Field(ge=1, le=DB_ID)


class KeywordList(BaseModel):
    items: dict[str, int] = Field(description="keyword -> category id")


class MergeOut(BaseModel):
    category: CategoryOut
    moved: int


# --- transactions -------------------------------------------------------------------------------------------------


class TransactionIn(InputModel):
    kind: CategoryKind
    account_id: int = Field(ge=1, le=DB_ID)
    amount: str = Field(pattern=AMOUNT, description="Positive decimal string in the account's currency, e.g. '12.50'")
    category_id: int | None = Field(default=None, ge=1, le=DB_ID)
    date: dt.date | None = Field(default=None, description="The family's local date; default: its today")
    note: str = Field(default="", max_length=500)


class TransactionPatch(InputModel):
    amount: str | None = Field(default=None, pattern=AMOUNT)
    account_id: int | None = Field(default=None, ge=1, le=DB_ID)
    category_id: int | None = Field(default=None, ge=0, le=DB_ID, description="0 removes the category")
    date: dt.date | None = None
    note: str | None = Field(default=None, max_length=500)


class TransferIn(InputModel):
    from_account_id: int = Field(ge=1, le=DB_ID)
    to_account_id: int = Field(ge=1, le=DB_ID)
    amount: str = Field(pattern=AMOUNT, description="Leaving the first account, in its currency")
    to_amount: str | None = Field(default=None, pattern=AMOUNT, description="Arriving; required across currencies")
    date: dt.date | None = None
    note: str = Field(default="", max_length=500)


class TransactionOut(_Out):
    id: int
    family_id: int
    kind: str
    account_id: int
    category_id: int | None
    amount_minor: int
    currency: str
    rate_to_base: str
    base_amount_minor: int
    local_date: date
    note: str
    author_id: int | None
    transfer_group_id: str | None
    created_at: datetime
    updated_at: datetime

    @field_validator("rate_to_base", mode="before")
    @classmethod
    def _rate(cls, value: object) -> str:
        return str(value)


class EditOut(BaseModel):
    action: Literal["create", "update", "delete"]
    user_id: int | None
    at: datetime
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class EditList(BaseModel):
    items: list[EditOut]


class TransferOut(BaseModel):
    transfer_group_id: str
    out_leg: TransactionOut
    in_leg: TransactionOut


class TransactionQuery(FamilyQuery):
    date_from: date | None = Field(default=None, description="Inclusive")
    date_to: date | None = Field(default=None, description="Exclusive")
    account_id: int | None = Field(default=None, ge=1, le=DB_ID)
    category_id: int | None = Field(default=None, ge=1, le=DB_ID)
    author_id: int | None = Field(default=None, ge=1, le=DB_ID)
    type: Literal["expense", "income", "transfer"] | None = None
    q: str | None = Field(default=None, min_length=1, max_length=100, description="Text in the note")
    sort: Literal["newest", "oldest"] = "newest"
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=200, description="next_cursor of the previous page")


class TransactionPage(BaseModel):
    items: list[TransactionOut]
    next_cursor: str | None


class RateIn(InputModel):
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    date: dt.date
    rate: str = Field(pattern=r"^\d{1,12}(\.\d{1,12})?$", description="One unit of the currency in the base currency")


class RateOut(_Out):
    currency: str
    base_currency: str
    rate: str = Field(description="One unit of the currency in the base currency, an exact decimal")
    date: dt.date = Field(validation_alias="rate_date", description="The rate applies from this date on")

    @field_validator("rate", mode="before")
    @classmethod
    def _rate(cls, value: object) -> str:
        return str(value)


class RateList(_Out):
    family_id: int
    base_currency: str
    items: list[RateOut] = Field(description="Each currency's latest rate, by currency")


# --- reports, export, import --------------------------------------------------------------------------------------


class ReportQuery(FamilyQuery):
    from_: date = Field(alias="from", description="Inclusive")
    to: date = Field(description="Exclusive")
    group_by: Literal["category", "member", "day"] = "category"


class SummaryGroupOut(_Out):
    key: str
    label: str
    kind: str
    total_minor: int
    count: int


class SummaryOut(_Out):
    family_id: int
    start: date
    end: date
    base_currency: str
    income_minor: int
    expense_minor: int
    group_by: str
    groups: list[SummaryGroupOut]


class ExportQuery(FamilyQuery):
    from_: date = Field(alias="from", description="Inclusive")
    to: date = Field(description="Exclusive")


class MappingIn(InputModel):
    date: str | int = Field(description="Header name or 0-based index")
    amount: str | int
    note: str | int | None = None
    category: str | int | None = None
    kind: str | int | None = None
    currency: str | int | None = None


class ImportIn(InputModel):
    family_id: int | None = Field(default=None, ge=1, le=DB_ID)
    account_id: int = Field(ge=1, le=DB_ID)
    csv: str = Field(min_length=1, max_length=2_000_000)
    mapping: MappingIn
    date_format: str = Field(default="%Y-%m-%d", min_length=2, max_length=32)
    sign: Literal["negative_is_expense", "type_column"] = "negative_is_expense"
    decimal_symbol: Literal[".", ","] = "."
    has_header: bool = True
    dry_run: bool = True


class ImportRowOut(BaseModel):
    line: int
    date: dt.date
    kind: str
    amount: str
    currency: str
    note: str
    category: str | None


class ImportErrorOut(BaseModel):
    line: int
    code: str
    column: str | None


class ImportOut(BaseModel):
    dry_run: bool
    created: int
    rows: list[ImportRowOut]
    duplicates: list[ImportRowOut]
    errors: list[ImportErrorOut]
