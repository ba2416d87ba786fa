"""evm addresses: a user's Ethereum and Base addresses, and when an ownership proof verified each

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.models.base import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_CHAINS = ("ethereum", "base")


def upgrade() -> None:
    # Plain ALTER TABLE, never a batch copy: on SQLite a copy drops `users`, whose cascades would empty the tables
    # that refer to it, and loses the expression indexes of migration 0008.
    for chain in _CHAINS:
        op.add_column("users", sa.Column(f"{chain}_address", sa.String(42), nullable=True))
        op.add_column("users", sa.Column(f"{chain}_verified_at", UTCDateTime(), nullable=True))
    for chain in _CHAINS:
        # A verified address belongs to one user: the database decides between two concurrent proofs.
        condition = sa.text(f"{chain}_verified_at IS NOT NULL")
        op.create_index(
            f"uq_users_{chain}_address_verified",
            "users",
            [f"{chain}_address"],
            unique=True,
            sqlite_where=condition,
            postgresql_where=condition,
        )


def downgrade() -> None:
    for chain in _CHAINS:
        op.drop_index(f"uq_users_{chain}_address_verified", table_name="users")
    for chain in reversed(_CHAINS):
        op.drop_column("users", f"{chain}_verified_at")
        op.drop_column("users", f"{chain}_address")
