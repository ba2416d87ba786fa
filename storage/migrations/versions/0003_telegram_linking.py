"""telegram linking: identities, binding codes, referrals

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

from storage.models.base import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("referral_code", sa.String(16), nullable=True))
        batch.add_column(sa.Column("referred_by_id", sa.Integer(), nullable=True))
        batch.create_unique_constraint(batch.f("uq_users_referral_code"), ["referral_code"])
        batch.create_foreign_key(
            batch.f("fk_users_referred_by_id_users"), "users", ["referred_by_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_index(batch.f("ix_users_referred_by_id"), ["referred_by_id"])

    op.create_table(
        "identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(320), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_identities_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identities")),
        sa.UniqueConstraint("provider", "subject", name="uq_identities_provider_subject"),
    )
    op.create_index(op.f("ix_identities_user_id"), "identities", ["user_id"])

    op.create_table(
        "binding_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("issued_to", sa.String(16), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.Column("failed_attempts", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_binding_codes_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_binding_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_binding_codes_code_hash")),
    )
    op.create_index(op.f("ix_binding_codes_telegram_id"), "binding_codes", ["telegram_id"])
    op.create_index(op.f("ix_binding_codes_user_id"), "binding_codes", ["user_id"])
    op.create_index(op.f("ix_binding_codes_expires_at"), "binding_codes", ["expires_at"])

    # Existing users get their sign-in identities and a referral code.
    connection = op.get_bind()
    users = sa.table(
        "users",
        sa.column("id", sa.Integer),
        sa.column("telegram_id", sa.BigInteger),
        sa.column("email_key", sa.String),
        sa.column("created_at", UTCDateTime()),
        sa.column("referral_code", sa.String),
    )
    identities = sa.table(
        "identities",
        sa.column("user_id", sa.Integer),
        sa.column("provider", sa.String),
        sa.column("subject", sa.String),
        sa.column("created_at", UTCDateTime()),
    )
    rows = connection.execute(sa.select(users.c.id, users.c.telegram_id, users.c.email_key, users.c.created_at)).all()
    for user_id, telegram_id, email_key, created_at in rows:
        if telegram_id is not None:
            connection.execute(
                identities.insert().values(
                    user_id=user_id, provider="telegram", subject=str(telegram_id), created_at=created_at
                )
            )
        if email_key is not None:
            connection.execute(
                identities.insert().values(user_id=user_id, provider="email", subject=email_key, created_at=created_at)
            )
        code = "".join(secrets.choice(_ALPHABET) for _ in range(10))
        connection.execute(users.update().where(users.c.id == user_id).values(referral_code=code))


def downgrade() -> None:
    op.drop_table("binding_codes")
    op.drop_table("identities")
    with op.batch_alter_table("users") as batch:
        batch.drop_index("ix_users_referred_by_id")
        batch.drop_constraint("fk_users_referred_by_id_users", type_="foreignkey")
        batch.drop_constraint("uq_users_referral_code", type_="unique")
        batch.drop_column("referred_by_id")
        batch.drop_column("referral_code")
