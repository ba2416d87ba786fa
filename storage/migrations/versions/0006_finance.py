"""finance: families, members, invites, accounts, categories, aliases, rates, transactions, edits, idempotency keys

Revision ID: 0006_finance
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.models.base import UTCDateTime
from storage.models.finance import ExactDecimal

revision = "0006_finance"
down_revision = "0005_rewards"
branch_labels = None
depends_on = None


def _family_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["family_id"], ["finance_families.id"], name=op.f(f"fk_{table}_family_id_finance_families"), ondelete="CASCADE"
    )


def _user_fk(table: str, column: str, ondelete: str = "SET NULL") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], ["users.id"], name=op.f(f"fk_{table}_{column}_users"), ondelete=ondelete)


def upgrade() -> None:
    op.create_table(
        "finance_families",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("base_currency", sa.String(3), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        _user_fk("finance_families", "created_by_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finance_families")),
    )
    op.create_index(op.f("ix_finance_families_created_by_id"), "finance_families", ["created_by_id"])

    op.create_table(
        "finance_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("family_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("joined_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("role IN ('owner', 'admin', 'member', 'viewer')", name=op.f("ck_finance_members_role")),
        _family_fk("finance_members"),
        _user_fk("finance_members", "user_id", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finance_members")),
        sa.UniqueConstraint("family_id", "user_id", name="uq_finance_members_family_user"),
    )
    op.create_index(op.f("ix_finance_members_user_id"), "finance_members", ["user_id"])

    op.create_table(
        "finance_invites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("family_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("max_uses", sa.Integer(), server_default="1", nullable=False),
        sa.Column("uses", sa.Integer(), server_default="0", nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("role IN ('admin', 'member', 'viewer')", name=op.f("ck_finance_invites_role")),
        sa.CheckConstraint("max_uses >= 1 AND uses >= 0 AND uses <= max_uses", name=op.f("ck_finance_invites_uses")),
        _family_fk("finance_invites"),
        _user_fk("finance_invites", "created_by_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finance_invites")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_finance_invites_code_hash")),
    )
    op.create_index(op.f("ix_finance_invites_family_id"), "finance_invites", ["family_id"])
    op.create_index(op.f("ix_finance_invites_expires_at"), "finance_invites", ["expires_at"])
    op.create_index(op.f("ix_finance_invites_created_by_id"), "finance_invites", ["created_by_id"])

    op.create_table(
        "finance_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("family_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("name_key", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("opening_balance_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("archived", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('cash', 'card', 'bank', 'savings', 'credit')", name=op.f("ck_finance_accounts_kind")
        ),
        _family_fk("finance_accounts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finance_accounts")),
        sa.UniqueConstraint("family_id", "id", name="uq_finance_accounts_family_id_id"),
        sa.UniqueConstraint("family_id", "name_key", name="uq_finance_accounts_family_id_name_key"),
    )

    op.create_table(
        "finance_categories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("family_id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("name_key", sa.String(64), nullable=False),
        sa.Column("emoji", sa.String(16), nullable=True),
        sa.Column("archived", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('expense', 'income')", name=op.f("ck_finance_categories_kind")),
        sa.CheckConstraint("parent_id IS NULL OR parent_id <> id", name=op.f("ck_finance_categories_parent")),
        sa.ForeignKeyConstraint(
            ["family_id", "parent_id"],
            ["finance_categories.family_id", "finance_categories.id"],
            name="fk_finance_categories_parent",
        ),
        _family_fk("finance_categories"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finance_categories")),
        sa.UniqueConstraint("family_id", "id", name="uq_finance_categories_family_id_id"),
        sa.UniqueConstraint("family_id", "kind", "name_key", name="uq_finance_categories_family_id_kind_name_key"),
    )

    op.create_table(
        "finance_keyword_aliases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("family_id", sa.Integer(), nullable=False),
        sa.Column("keyword", sa.String(64), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["family_id", "category_id"],
            ["finance_categories.family_id", "finance_categories.id"],
            name="fk_finance_keyword_aliases_category",
            ondelete="CASCADE",
        ),
        _family_fk("finance_keyword_aliases"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finance_keyword_aliases")),
        sa.UniqueConstraint("family_id", "keyword", name="uq_finance_keyword_aliases_family_id_keyword"),
    )
    op.create_index(op.f("ix_finance_keyword_aliases_category_id"), "finance_keyword_aliases", ["category_id"])

    op.create_table(
        "finance_exchange_rates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("family_id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("rate_date", sa.Date(), nullable=False),
        sa.Column("rate", ExactDecimal(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        _family_fk("finance_exchange_rates"),
        _user_fk("finance_exchange_rates", "created_by_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finance_exchange_rates")),
        sa.UniqueConstraint(
            "family_id", "currency", "rate_date", name="uq_finance_exchange_rates_family_currency_date"
        ),
    )
    op.create_index(op.f("ix_finance_exchange_rates_created_by_id"), "finance_exchange_rates", ["created_by_id"])

    op.create_table(
        "finance_transactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("family_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("rate_to_base", ExactDecimal(), nullable=False),
        sa.Column("base_amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("note", sa.String(500), server_default="", nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("transfer_group_id", sa.String(36), nullable=True),
        sa.Column("source", sa.String(16), server_default="manual", nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('expense', 'income', 'transfer')", name=op.f("ck_finance_transactions_kind")),
        sa.CheckConstraint(
            "(kind = 'expense' AND amount_minor < 0) OR (kind = 'income' AND amount_minor > 0)"
            " OR (kind = 'transfer' AND amount_minor <> 0 AND transfer_group_id IS NOT NULL AND category_id IS NULL)",
            name=op.f("ck_finance_transactions_amount_sign"),
        ),
        sa.ForeignKeyConstraint(
            ["family_id", "account_id"],
            ["finance_accounts.family_id", "finance_accounts.id"],
            name="fk_finance_transactions_account",
        ),
        sa.ForeignKeyConstraint(
            ["family_id", "category_id"],
            ["finance_categories.family_id", "finance_categories.id"],
            name="fk_finance_transactions_category",
        ),
        _family_fk("finance_transactions"),
        _user_fk("finance_transactions", "author_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finance_transactions")),
    )
    op.create_index("ix_finance_transactions_family_date", "finance_transactions", ["family_id", "local_date", "id"])
    op.create_index("ix_finance_transactions_account_date", "finance_transactions", ["account_id", "local_date"])
    op.create_index(
        "ix_finance_transactions_category_date", "finance_transactions", ["family_id", "category_id", "local_date"]
    )
    op.create_index(op.f("ix_finance_transactions_author_id"), "finance_transactions", ["author_id"])
    op.create_index(op.f("ix_finance_transactions_transfer_group_id"), "finance_transactions", ["transfer_group_id"])

    op.create_table(
        "finance_transaction_edits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("family_id", sa.Integer(), nullable=False),
        sa.Column("transaction_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.CheckConstraint(
            "action IN ('create', 'update', 'delete')", name=op.f("ck_finance_transaction_edits_action")
        ),
        _family_fk("finance_transaction_edits"),
        _user_fk("finance_transaction_edits", "user_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finance_transaction_edits")),
    )
    op.create_index(
        "ix_finance_transaction_edits_family_transaction",
        "finance_transaction_edits",
        ["family_id", "transaction_id", "id"],
    )
    op.create_index(op.f("ix_finance_transaction_edits_user_id"), "finance_transaction_edits", ["user_id"])

    op.create_table(
        "finance_idempotency_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("family_id", sa.Integer(), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=True),
        sa.Column("transaction_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        _family_fk("finance_idempotency_keys"),
        _user_fk("finance_idempotency_keys", "user_id", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["finance_transactions.id"],
            name=op.f("fk_finance_idempotency_keys_transaction_id_finance_transactions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finance_idempotency_keys")),
        sa.UniqueConstraint("user_id", "key", name="uq_finance_idempotency_keys_user_key"),
    )
    op.create_index(op.f("ix_finance_idempotency_keys_family_id"), "finance_idempotency_keys", ["family_id"])
    op.create_index(op.f("ix_finance_idempotency_keys_transaction_id"), "finance_idempotency_keys", ["transaction_id"])
    op.create_index(op.f("ix_finance_idempotency_keys_created_at"), "finance_idempotency_keys", ["created_at"])


def downgrade() -> None:
    # Children before parents; dropping a table drops its indexes.
    for table in (
        "finance_idempotency_keys",
        "finance_transaction_edits",
        "finance_transactions",
        "finance_exchange_rates",
        "finance_keyword_aliases",
        "finance_categories",
        "finance_accounts",
        "finance_invites",
        "finance_members",
        "finance_families",
    ):
        op.drop_table(table)
