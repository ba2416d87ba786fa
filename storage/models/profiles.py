from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime

PROFILE_STATES = ("active", "revoked")


class TelegramProfile(Base):
    """A Telegram user account its owner signed in to through the product; one per owner and phone number."""

    __tablename__ = "telegram_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # E.164 digits without the plus; shown to people only masked.
    phone: Mapped[str] = mapped_column(String(16))
    # Telegram ids already exceed 2^31.
    telegram_id: Mapped[int] = mapped_column(BigInteger, index=True)
    first_name: Mapped[str | None] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    username: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="active", server_default="active")
    # The client session, sealed by core.profiles.crypto; cleared when the profile is revoked (it opens nothing then).
    session_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The sealing key's id, also inside the sealed value; a column so that key rotation can find old rows.
    key_id: Mapped[str | None] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # The unique index starts with owner_id, so it also serves owner lookups and the cascade from users.
    __table_args__ = (
        UniqueConstraint("owner_id", "phone", name="uq_telegram_profiles_owner_id_phone"),
        CheckConstraint("state IN ('active', 'revoked')", name="state"),
    )


class PendingProfileLogin(Base):
    """A login waiting for its code or cloud password; its sealed state lets any replica continue it."""

    __tablename__ = "pending_profile_logins"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    phone: Mapped[str] = mapped_column(String(16))
    state_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(32), index=True)
    # Wrong codes and passwords so far; Telegram does not say how many remain, so the domain counts.
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)

    __table_args__ = (UniqueConstraint("owner_id", "phone", name="uq_pending_profile_logins_owner_id_phone"),)
