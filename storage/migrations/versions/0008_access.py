"""access: access levels and the bot-suspect flag on users, indexes for the admin views, the audit log

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.models.base import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

FLAGS = ("full_permissions_api", "is_staff", "has_beta_access", "has_alpha_access", "is_bot_suspected")
PARTIAL = {
    "ix_users_is_staff": "is_staff",
    "ix_users_full_permissions_api": "full_permissions_api",
    "ix_users_has_beta_access": "has_beta_access",
    "ix_users_has_alpha_access": "has_alpha_access",
    "ix_users_is_bot_suspected": "is_bot_suspected",
}
LOWER = {
    "ix_users_lower_first_name": "first_name",
    "ix_users_lower_last_name": "last_name",
    "ix_users_lower_telegram_username": "telegram_username",
}


def upgrade() -> None:
    # Plain ADD COLUMN (a constant default is allowed on both databases): a batch copy of `users` on SQLite would
    # drop the table, and its cascades would empty the tables that refer to it.
    for flag in FLAGS:
        op.add_column("users", sa.Column(flag, sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_index(op.f("ix_users_date_joined"), "users", ["date_joined"])
    for name, column in PARTIAL.items():
        held = sa.column(column, sa.Boolean())
        op.create_index(name, "users", ["id"], sqlite_where=held == sa.true(), postgresql_where=held)
    active = sa.column("is_active", sa.Boolean())
    op.create_index("ix_users_inactive", "users", ["id"], sqlite_where=active == sa.false(), postgresql_where=~active)
    for name, column in LOWER.items():
        op.create_index(name, "users", [sa.text(f"lower({column})")])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("face", sa.String(8), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_actor_id_id", "audit_log", ["actor_id", "id"])
    op.create_index("ix_audit_log_target_id_id", "audit_log", ["target_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_target_id_id", table_name="audit_log")
    op.drop_index("ix_audit_log_actor_id_id", table_name="audit_log")
    op.drop_table("audit_log")
    for name in (*LOWER, "ix_users_inactive", *PARTIAL):
        op.drop_index(name, table_name="users")
    op.drop_index(op.f("ix_users_date_joined"), table_name="users")
    # ALTER TABLE DROP COLUMN (SQLite 3.35+), for the same reason as above.
    for flag in reversed(FLAGS):
        op.drop_column("users", flag)
