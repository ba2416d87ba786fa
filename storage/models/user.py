from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, false, text, true
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime, utcnow


class User(Base):
    """One person, however they sign in: Telegram users and email users are rows of this table."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Telegram ids already exceed 2^31; a 32-bit column would overflow on PostgreSQL.
    telegram_id: Mapped[int | None] = mapped_column(BigInteger, unique=True, nullable=True)
    # As Telegram reports it on each update; people rename themselves there, so it is not unique here.
    telegram_username: Mapped[str | None] = mapped_column(String(255))
    # The product's own login name; unique regardless of case (username_key holds the casefolded form).
    username: Mapped[str | None] = mapped_column(String(64))
    username_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Kept as typed; email_key (casefolded) carries the uniqueness, so "A@x.org" and "a@x.org" collide.
    email: Mapped[str | None] = mapped_column(String(320))
    email_key: Mapped[str | None] = mapped_column(String(320), unique=True)
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    password_hash: Mapped[str | None] = mapped_column(String(255))
    first_name: Mapped[str | None] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    language: Mapped[str | None] = mapped_column(String(16))
    # IANA name; None: the deployment's default zone.
    time_zone: Mapped[str | None] = mapped_column(String(64))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Access levels (core/access/levels.py): granted by admins, audited; the policy reads them on every request.
    full_permissions_api: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    is_staff: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    has_beta_access: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    has_alpha_access: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Set from Telegram's is_bot, repeated rate-limit violations or by an admin; cleared only by an admin.
    is_bot_suspected: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Raised whenever every token of the user must die at once (password change, disable, level change).
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Raised by the domain on every change; caches compare it to know whether their copy is current.
    revision: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # Shared in start links as ref_<code>; random so that links do not reveal how many users there are.
    referral_code: Mapped[str | None] = mapped_column(String(16), unique=True)
    referred_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    # EVM addresses (EIP-55 checksummed). Anyone may record any address; one verified by an ownership proof
    # (verified_at set) belongs to one user only, which the partial unique indexes of migration 0009 enforce.
    ethereum_address: Mapped[str | None] = mapped_column(String(42))
    ethereum_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    base_address: Mapped[str | None] = mapped_column(String(42))
    base_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Indexed for the admin views (new users, sorting by date joined).
    date_joined: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    last_login: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    __table_args__ = (
        Index(
            "uq_users_ethereum_address_verified",
            "ethereum_address",
            unique=True,
            sqlite_where=text("ethereum_verified_at IS NOT NULL"),
            postgresql_where=text("ethereum_verified_at IS NOT NULL"),
        ),
        Index(
            "uq_users_base_address_verified",
            "base_address",
            unique=True,
            sqlite_where=text("base_verified_at IS NOT NULL"),
            postgresql_where=text("base_verified_at IS NOT NULL"),
        ),
    )
