"""evm addresses: a user's Ethereum and Base addresses, and when an ownership proof verified each

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.models.base import UTCDateTime

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None

_CHAINS = ("ethereum", "base")


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        for chain in _CHAINS:
            batch.add_column(sa.Column(f"{chain}_address", sa.String(42), nullable=True))
            batch.add_column(sa.Column(f"{chain}_verified_at", UTCDateTime(), nullable=True))
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
    with op.batch_alter_table("users") as batch:
        for chain in reversed(_CHAINS):
            batch.drop_column(f"{chain}_verified_at")
            batch.drop_column(f"{chain}_address")
