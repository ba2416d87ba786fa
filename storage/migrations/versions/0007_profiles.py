"""profiles: Telegram user accounts linked by their owners, and logins waiting for a code or password

Revision ID: 0007
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.models.base import UTCDateTime

revision = "0007"
down_revision = "0006_finance"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "telegram_profiles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(16), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("first_name", sa.String(255), nullable=True),
        sa.Column("last_name", sa.String(255), nullable=True),
        sa.Column("username", sa.String(64), nullable=True),
        sa.Column("state", sa.String(16), server_default="active", nullable=False),
        sa.Column("session_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("key_id", sa.String(32), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint("state IN ('active', 'revoked')", name=op.f("ck_telegram_profiles_state")),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_telegram_profiles_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_telegram_profiles")),
        sa.UniqueConstraint("owner_id", "phone", name="uq_telegram_profiles_owner_id_phone"),
    )
    op.create_index(op.f("ix_telegram_profiles_telegram_id"), "telegram_profiles", ["telegram_id"])
    op.create_index(op.f("ix_telegram_profiles_key_id"), "telegram_profiles", ["key_id"])

    op.create_table(
        "pending_profile_logins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(16), nullable=False),
        sa.Column("state_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_pending_profile_logins_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_profile_logins")),
        sa.UniqueConstraint("owner_id", "phone", name="uq_pending_profile_logins_owner_id_phone"),
    )
    op.create_index(op.f("ix_pending_profile_logins_key_id"), "pending_profile_logins", ["key_id"])
    op.create_index(op.f("ix_pending_profile_logins_expires_at"), "pending_profile_logins", ["expires_at"])


def downgrade() -> None:
    op.drop_table("pending_profile_logins")
    op.drop_table("telegram_profiles")
