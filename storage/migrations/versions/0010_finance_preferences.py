"""finance preferences: each user's active family

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.models.base import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "finance_preferences",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("active_family_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_finance_preferences_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["active_family_id"],
            ["finance_families.id"],
            name=op.f("fk_finance_preferences_active_family_id_finance_families"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_finance_preferences")),
    )
    op.create_index(op.f("ix_finance_preferences_active_family_id"), "finance_preferences", ["active_family_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_finance_preferences_active_family_id"), table_name="finance_preferences")
    op.drop_table("finance_preferences")
