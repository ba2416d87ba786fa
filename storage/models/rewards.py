"""Points as a double-entry ledger, and per-user cooldowns of rewarded actions.

Points never live in a counter that is overwritten: every movement is a transaction whose entries add up to zero,
and an account's balance is the sum of its entries. The balance column is a cache of that sum, written in the same
database transaction as the entries, so it can always be checked against them.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime, utcnow


class AccountKind(StrEnum):
    # A person's points; never below zero.
    USER_POINTS = "user_points"
    # Where rewards come from: its balance is minus what it has handed out, so it may go below zero.
    REWARDS_POOL = "rewards_pool"
    REFERRAL_POOL = "referral_pool"


class LedgerAccount(Base):
    """One account per (kind, user); the pools have no user and exist once per kind."""

    __tablename__ = "ledger_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    # RESTRICT: a person's points history outlives no one silently; retiring a user must move the balance first.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    allow_negative: Mapped[bool] = mapped_column(Boolean)
    balance: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        # user_id first, so the constraint's index also serves the foreign key.
        UniqueConstraint("user_id", "kind", name="uq_ledger_accounts_user_id_kind"),
        # NULLs are distinct in a unique constraint: the pools need an index of their own to exist once.
        Index(
            "uq_ledger_accounts_pool_kind",
            "kind",
            unique=True,
            sqlite_where=text("user_id IS NULL"),
            postgresql_where=text("user_id IS NULL"),
        ),
        CheckConstraint("allow_negative OR balance >= 0", name="balance_not_negative"),
    )


class LedgerTransaction(Base):
    """One movement of points; the idempotency key makes a retried movement find the first one."""

    __tablename__ = "ledger_transactions"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    memo: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class LedgerEntry(Base):
    """One side of a transaction: a signed amount on one account. Written once, never updated or deleted."""

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id", ondelete="RESTRICT"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id", ondelete="RESTRICT"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (CheckConstraint("amount <> 0", name="amount_not_zero"),)


class Cooldown(Base):
    """Until when a user may not repeat an action (a daily claim, say); an expired row means no cooldown."""

    __tablename__ = "cooldowns"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    action: Mapped[str] = mapped_column(String(32), primary_key=True)
    until: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
