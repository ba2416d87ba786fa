from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, false, func, true
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import ONLY_ON, Base, UTCDateTime
from storage.models.user import User


class AuditEntry(Base):
    """One admin change, written in the transaction that made it. Append-only: nothing updates or deletes rows.

    Actor and target are plain ids, not foreign keys: the record outlives the accounts it names."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # None for the command line and the system (start-up admins, automatic bot-suspect flags).
    actor_id: Mapped[int | None] = mapped_column(Integer)
    # rest, bot, cli or system
    face: Mapped[str] = mapped_column(String(8))
    action: Mapped[str] = mapped_column(String(64))
    target_id: Mapped[int | None] = mapped_column(Integer)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The request id (REST), the update id (bot) or nothing (command line).
    request_id: Mapped[str | None] = mapped_column(String(128))

    __table_args__ = (
        Index("ix_audit_log_actor_id_id", "actor_id", "id"),
        Index("ix_audit_log_target_id_id", "target_id", "id"),
    )


# The admin list's filters and searches on the users table (see bench/admin_users.py for the query plans):
# partial indexes for the rare flags, expression indexes for case-insensitive prefix search on names.
USER_ACCESS_INDEXES = (
    Index("ix_users_is_staff", User.id, sqlite_where=User.is_staff == true(), postgresql_where=User.is_staff),
    Index(
        "ix_users_full_permissions_api",
        User.id,
        sqlite_where=User.full_permissions_api == true(),
        postgresql_where=User.full_permissions_api,
    ),
    Index(
        "ix_users_has_beta_access",
        User.id,
        sqlite_where=User.has_beta_access == true(),
        postgresql_where=User.has_beta_access,
    ),
    Index(
        "ix_users_has_alpha_access",
        User.id,
        sqlite_where=User.has_alpha_access == true(),
        postgresql_where=User.has_alpha_access,
    ),
    Index(
        "ix_users_is_bot_suspected",
        User.id,
        sqlite_where=User.is_bot_suspected == true(),
        postgresql_where=User.is_bot_suspected,
    ),
    Index("ix_users_inactive", User.id, sqlite_where=User.is_active == false(), postgresql_where=~User.is_active),
    Index("ix_users_lower_first_name", func.lower(User.first_name)),
    Index("ix_users_lower_last_name", func.lower(User.last_name)),
    Index("ix_users_lower_telegram_username", func.lower(User.telegram_username)),
    # PostgreSQL only (migration 0012): its default btree follows the collation, so under any but C it serves
    # no prefix range; these order bytewise, as SQLite's indexes above already do. Labels name the expressions
    # for postgresql_ops; ONLY_ON keeps autogenerate on SQLite from asking for them.
    *(
        Index(
            f"ix_users_{label}_pattern",
            expression.label(label),
            postgresql_ops={label: "text_pattern_ops"},
            info={ONLY_ON: "postgresql"},
        )
        for label, expression in (
            ("lower_first_name", func.lower(User.first_name)),
            ("lower_last_name", func.lower(User.last_name)),
            ("lower_telegram_username", func.lower(User.telegram_username)),
        )
    ),
    Index(
        "ix_users_username_key_pattern",
        User.username_key,
        postgresql_ops={"username_key": "text_pattern_ops"},
        info={ONLY_ON: "postgresql"},
    ),
)
