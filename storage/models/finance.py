"""Family finance: households, their members, accounts, categories and the ledger of transactions.

Every row belongs to one family. Accounts and categories carry a unique (family_id, id) so that rows pointing at them
use composite foreign keys that include family_id: the database itself refuses a transaction in one family that
names another family's account or category. Later features (budgets per category, goals per account, recurring
transactions) point at them the same way; the ledger's `source` column says where an entry came from.

Amounts are signed integers in the currency's minor units: expenses negative, incomes positive, a transfer is two
rows sharing a transfer_group_id (negative out of one account, positive into the other). An account's balance is its
opening balance plus the sum of its rows. Exchange rates are exact decimals, never floats.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column, validates
from sqlalchemy.types import TypeDecorator, TypeEngine

from storage.models.base import Base, UTCDateTime, utcnow

MEMBER_ROLES = ("owner", "admin", "member", "viewer")
ACCOUNT_KINDS = ("cash", "card", "bank", "savings", "credit")
CATEGORY_KINDS = ("expense", "income")
TRANSACTION_KINDS = ("expense", "income", "transfer")
EDIT_ACTIONS = ("create", "update", "delete")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def name_key(name: str) -> str:
    """What makes two names the same name: case and surrounding or repeated spaces aside."""
    return " ".join(name.split()).casefold()


class ExactDecimal(TypeDecorator[Decimal]):
    """Decimals kept exactly: NUMERIC on PostgreSQL; text on SQLite, whose NUMERIC affinity would store a float."""

    impl = String(64)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(64))
        return dialect.type_descriptor(Numeric(asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal) or not value.is_finite():
            raise ValueError("a finite Decimal is required")
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(str(value))


class Family(Base):
    __tablename__ = "finance_families"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # ISO 4217 code; summaries across accounts in several currencies are in this one.
    base_currency: Mapped[str] = mapped_column(String(3))
    # IANA name ("Europe/Moscow"): the family's "today" and the month boundaries of its summaries.
    time_zone: Mapped[str] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class FamilyMember(Base):
    __tablename__ = "finance_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("finance_families.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        UniqueConstraint("family_id", "user_id", name="uq_finance_members_family_user"),
        CheckConstraint(_one_of("role", MEMBER_ROLES), name="role"),
    )


class FamilyInvite(Base):
    """A link that lets people join a family with a given role; only the code's hash is stored."""

    __tablename__ = "finance_invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("finance_families.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    max_uses: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    uses: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        # Ownership is handed over, never handed out by link.
        CheckConstraint(_one_of("role", MEMBER_ROLES[1:]), name="role"),
        CheckConstraint("max_uses >= 1 AND uses >= 0 AND uses <= max_uses", name="uses"),
    )


class Account(Base):
    __tablename__ = "finance_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("finance_families.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    # Set from name: quick entry finds accounts by name regardless of case, so two names may not differ only so.
    name_key: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    opening_balance_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        UniqueConstraint("family_id", "id", name="uq_finance_accounts_family_id_id"),
        UniqueConstraint("family_id", "name_key", name="uq_finance_accounts_family_id_name_key"),
        CheckConstraint(_one_of("kind", ACCOUNT_KINDS), name="kind"),
    )

    @validates("name")
    def _set_key(self, _: str, value: str) -> str:
        self.name_key = name_key(value)
        return value


class Category(Base):
    __tablename__ = "finance_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("finance_families.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(64))
    name_key: Mapped[str] = mapped_column(String(64))
    emoji: Mapped[str | None] = mapped_column(String(16))
    archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        UniqueConstraint("family_id", "id", name="uq_finance_categories_family_id_id"),
        UniqueConstraint("family_id", "kind", "name_key", name="uq_finance_categories_family_id_kind_name_key"),
        # A parent in the same family; a category with children cannot be deleted (archive it instead).
        ForeignKeyConstraint(
            ["family_id", "parent_id"],
            ["finance_categories.family_id", "finance_categories.id"],
            name="fk_finance_categories_parent",
        ),
        CheckConstraint(_one_of("kind", CATEGORY_KINDS), name="kind"),
        CheckConstraint("parent_id IS NULL OR parent_id <> id", name="parent"),
    )

    @validates("name")
    def _set_key(self, _: str, value: str) -> str:
        self.name_key = name_key(value)
        return value


class KeywordAlias(Base):
    """A family's rule for quick entry: this word means this category."""

    __tablename__ = "finance_keyword_aliases"

    id: Mapped[int] = mapped_column(primary_key=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("finance_families.id", ondelete="CASCADE"))
    # Lower-cased by the domain, as quick entry lower-cases the words it matches.
    keyword: Mapped[str] = mapped_column(String(64))
    category_id: Mapped[int] = mapped_column(Integer, index=True)

    __table_args__ = (
        UniqueConstraint("family_id", "keyword", name="uq_finance_keyword_aliases_family_id_keyword"),
        ForeignKeyConstraint(
            ["family_id", "category_id"],
            ["finance_categories.family_id", "finance_categories.id"],
            name="fk_finance_keyword_aliases_category",
            ondelete="CASCADE",
        ),
    )


class ExchangeRate(Base):
    """What one unit of `currency` was worth in the family's base currency on a day, as the family entered it."""

    __tablename__ = "finance_exchange_rates"

    id: Mapped[int] = mapped_column(primary_key=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("finance_families.id", ondelete="CASCADE"))
    currency: Mapped[str] = mapped_column(String(3))
    rate_date: Mapped[date] = mapped_column(Date)
    rate: Mapped[Decimal] = mapped_column(ExactDecimal())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        UniqueConstraint("family_id", "currency", "rate_date", name="uq_finance_exchange_rates_family_currency_date"),
    )


class Transaction(Base):
    __tablename__ = "finance_transactions"

    id: Mapped[int] = mapped_column(primary_key=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("finance_families.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[int] = mapped_column(Integer)
    category_id: Mapped[int | None] = mapped_column(Integer)
    # Signed minor units of the account's currency.
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # One unit of `currency` in the base currency at entry time (1 when they are the same), and the result.
    rate_to_base: Mapped[Decimal] = mapped_column(ExactDecimal())
    base_amount_minor: Mapped[int] = mapped_column(BigInteger)
    # The family's calendar day (in its time zone) the entry belongs to; summaries group by it.
    local_date: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(500), default="", server_default="")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    transfer_group_id: Mapped[str | None] = mapped_column(String(36), index=True)
    # Where the entry came from: chat, api, import, recurring...
    source: Mapped[str] = mapped_column(String(16), default="manual", server_default="manual")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    __table_args__ = (
        ForeignKeyConstraint(
            ["family_id", "account_id"],
            ["finance_accounts.family_id", "finance_accounts.id"],
            name="fk_finance_transactions_account",
        ),
        ForeignKeyConstraint(
            ["family_id", "category_id"],
            ["finance_categories.family_id", "finance_categories.id"],
            name="fk_finance_transactions_category",
        ),
        CheckConstraint(_one_of("kind", TRANSACTION_KINDS), name="kind"),
        CheckConstraint(
            "(kind = 'expense' AND amount_minor < 0) OR (kind = 'income' AND amount_minor > 0)"
            " OR (kind = 'transfer' AND amount_minor <> 0 AND transfer_group_id IS NOT NULL AND category_id IS NULL)",
            name="amount_sign",
        ),
        # Month summaries and the newest-first cursor both walk (family, day, id).
        Index("ix_finance_transactions_family_date", "family_id", "local_date", "id"),
        Index("ix_finance_transactions_account_date", "account_id", "local_date"),
        Index("ix_finance_transactions_category_date", "family_id", "category_id", "local_date"),
    )


class TransactionEdit(Base):
    """Who changed a transaction, when, and its values before and after; kept after the transaction is deleted."""

    __tablename__ = "finance_transaction_edits"

    id: Mapped[int] = mapped_column(primary_key=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("finance_families.id", ondelete="CASCADE"))
    # No foreign key: the history outlives the row it describes.
    transaction_id: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (
        CheckConstraint(_one_of("action", EDIT_ACTIONS), name="action"),
        Index("ix_finance_transaction_edits_family_transaction", "family_id", "transaction_id", "id"),
    )


class IdempotencyKey(Base):
    """A client's key for one create request: a retry with the same key gets the same transaction back."""

    __tablename__ = "finance_idempotency_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    family_id: Mapped[int] = mapped_column(ForeignKey("finance_families.id", ondelete="CASCADE"), index=True)
    # A retry whose body differs from the first request's is a client bug, told apart by this hash.
    request_hash: Mapped[str | None] = mapped_column(String(64))
    transaction_id: Mapped[int | None] = mapped_column(
        ForeignKey("finance_transactions.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)

    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_finance_idempotency_keys_user_key"),)


class FinancePreference(Base):
    """A user's choices about finance: the family that commands and requests without a family id act on."""

    __tablename__ = "finance_preferences"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    active_family_id: Mapped[int | None] = mapped_column(
        ForeignKey("finance_families.id", ondelete="SET NULL"), index=True
    )
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
