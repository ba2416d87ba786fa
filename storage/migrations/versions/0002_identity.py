"""identity: email/password users, sessions, refresh-token families, revoked access tokens

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.models.base import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        # The old column held Telegram's username; the product's own login name is a new, unique column.
        batch.alter_column("username", new_column_name="telegram_username", existing_type=sa.String(255))
    # A second batch: adding a column under the name just freed confuses a single batch's column ordering.
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("username", sa.String(64), nullable=True))
        batch.add_column(sa.Column("username_key", sa.String(64), nullable=True))
        batch.add_column(sa.Column("email", sa.String(320), nullable=True))
        batch.add_column(sa.Column("email_key", sa.String(320), nullable=True))
        batch.add_column(sa.Column("email_verified", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("password_hash", sa.String(255), nullable=True))
        batch.add_column(sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False))
        batch.add_column(sa.Column("token_version", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("revision", sa.Integer(), server_default="1", nullable=False))
        batch.add_column(sa.Column("date_joined", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("last_login", UTCDateTime(), nullable=True))
        batch.create_unique_constraint(batch.f("uq_users_username_key"), ["username_key"])
        batch.create_unique_constraint(batch.f("uq_users_email_key"), ["email_key"])
    op.execute("UPDATE users SET date_joined = created_at")
    with op.batch_alter_table("users") as batch:
        batch.alter_column("date_joined", existing_type=UTCDateTime(), nullable=False)

    op.create_table(
        "auth_sessions",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(32), nullable=False),
        sa.Column("user_agent", sa.String(512), nullable=True),
        sa.Column("ip", sa.String(64), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_used_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("access_jti", sa.String(64), nullable=True),
        sa.Column("access_expires_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_auth_sessions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_sessions")),
    )
    op.create_index(op.f("ix_auth_sessions_user_id"), "auth_sessions", ["user_id"])
    op.create_index(op.f("ix_auth_sessions_expires_at"), "auth_sessions", ["expires_at"])
    op.create_index(op.f("ix_auth_sessions_revoked_at"), "auth_sessions", ["revoked_at"])

    op.create_table(
        "auth_refresh_tokens",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("session_id", sa.String(36), nullable=False),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.Column("replaced_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["auth_sessions.id"],
            name=op.f("fk_auth_refresh_tokens_session_id_auth_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_auth_refresh_tokens")),
    )
    op.create_index(op.f("ix_auth_refresh_tokens_session_id"), "auth_refresh_tokens", ["session_id"])

    op.create_table(
        "auth_revoked_tokens",
        sa.Column("jti", sa.String(64), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_auth_revoked_tokens")),
    )
    op.create_index("ix_auth_revoked_tokens_expires_at", "auth_revoked_tokens", ["expires_at"])


def downgrade() -> None:
    op.drop_table("auth_revoked_tokens")
    op.drop_table("auth_refresh_tokens")
    op.drop_table("auth_sessions")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("uq_users_email_key", type_="unique")
        batch.drop_constraint("uq_users_username_key", type_="unique")
        for column in (
            "last_login",
            "date_joined",
            "revision",
            "token_version",
            "is_active",
            "password_hash",
            "email_verified",
            "email_key",
            "email",
            "username_key",
            "username",
        ):
            batch.drop_column(column)
        batch.alter_column("telegram_username", new_column_name="username", existing_type=sa.String(255))
