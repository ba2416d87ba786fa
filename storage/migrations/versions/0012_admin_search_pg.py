"""admin search on PostgreSQL: text_pattern_ops indexes for the admin list's prefix search

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# The exact expressions AccessRepository._prefix compares with ~>=~ and ~<~ (lower() of a varchar is
# lower(col::text) in both the index and the query, so they match).
PATTERN = {
    "ix_users_lower_first_name_pattern": "lower(first_name)",
    "ix_users_lower_last_name_pattern": "lower(last_name)",
    "ix_users_lower_telegram_username_pattern": "lower(telegram_username)",
    "ix_users_username_key_pattern": "username_key",
}


def upgrade() -> None:
    # SQLite's BINARY indexes of 0008 already order bytewise; only PostgreSQL needs these (under a non-C collation
    # its default btree orders by the locale, so it serves no prefix range).
    if op.get_bind().dialect.name != "postgresql":
        return
    # A plain build, inside the migration's transaction: writes to users wait while it runs (seconds per index on
    # a million rows). On a large live install, create them beforehand with CREATE INDEX CONCURRENTLY under
    # these names (docs/access.md); this migration then only has to find them.
    for name, expression in PATTERN.items():
        op.create_index(name, "users", [sa.text(f"{expression} text_pattern_ops")], if_not_exists=True)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in reversed(PATTERN):
        op.drop_index(name, table_name="users")
