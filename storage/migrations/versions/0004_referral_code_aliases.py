"""referral code aliases: codes of retired accounts keep crediting the account they were linked into

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "referral_code_aliases",
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_referral_code_aliases_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_referral_code_aliases")),
    )
    op.create_index(op.f("ix_referral_code_aliases_user_id"), "referral_code_aliases", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_referral_code_aliases_user_id"), table_name="referral_code_aliases")
    op.drop_table("referral_code_aliases")
