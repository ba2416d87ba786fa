"""Telegram profiles in the database: pending logins and signed-in profiles, sealed at rest.

`ProfilesService(uow)` reads and writes on the caller's unit of work and never speaks to Telegram; the calls to
Telegram happen between units of work, in `core.profiles.flows`.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.container import UnitOfWork
from core.errors import Conflict, DomainError, NotFound, ValidationFailed
from core.profiles.crypto import KeyRing
from core.profiles.port import (
    CodeExpired,
    PendingLogin,
    SessionData,
    SignedIn,
    TelegramProfilesPort,
    WrongCode,
    mask_phone,
)
from core.profiles.sealing import pending_context, session_context
from storage.kv import KeyValueUnavailable
from storage.models.profiles import TelegramProfile
from storage.repositories.profiles import ProfileRepository


@dataclass
class ProfilesConfig:
    """What the composition root gives the feature. `port` is None when it is off (`disabled_reason` says why)."""

    port: TelegramProfilesPort | None
    keyring: KeyRing | None
    disabled_reason: str | None = None
    pending_ttl: timedelta = timedelta(minutes=5)
    max_code_attempts: int = 5
    send_per_minute: int = 20
    dialogs_cache_seconds: int = 30
    lease_seconds: int = 60
    max_clients: int = 8
    unread_max_dialogs: int = 50
    unread_per_dialog: int = 20
    # How long the bot's link to the form page that adds a profile works (once).
    page_code_seconds: int = 600
    # Caps the Telegram clients connected at once in this process.
    clients: asyncio.Semaphore = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.clients = asyncio.Semaphore(max(1, self.max_clients))


class ProfilesDisabled(DomainError):
    status_hint = 503

    def __init__(self, reason: str) -> None:
        super().__init__("profiles_disabled", f"Telegram profiles are off on this server: {reason}")


class StoreUnavailable(DomainError):
    """The shared store is down: without it one session could be used from two places, so nothing is attempted."""

    status_hint = 503

    def __init__(self) -> None:
        super().__init__("profiles_store_unavailable", "Telegram profiles are unavailable for a moment; try again")


class ProfileNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("profile_not_found", "No such Telegram profile")


class ProfileRevoked(Conflict):
    def __init__(self) -> None:
        super().__init__("profile_revoked", "This Telegram profile is signed out; sign in to it again")


@dataclass(frozen=True, slots=True)
class ProfileDTO:
    id: int
    phone: str  # masked
    telegram_id: int
    first_name: str | None
    last_name: str | None
    username: str | None
    state: str
    created_at: datetime
    last_used_at: datetime | None
    unread_total: int | None = None


@dataclass(frozen=True, slots=True)
class StoredPending:
    id: int
    login: PendingLogin
    failed_attempts: int


@dataclass(frozen=True, slots=True)
class ProfileSession:
    profile_id: int
    session: SessionData


def profile_dto(row: TelegramProfile, unread_total: int | None = None) -> ProfileDTO:
    return ProfileDTO(
        id=row.id,
        phone=mask_phone(row.phone),
        telegram_id=row.telegram_id,
        first_name=row.first_name,
        last_name=row.last_name,
        username=row.username,
        state=row.state,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        unread_total=unread_total,
    )


class ProfilesService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.config = uow.config(ProfilesConfig)
        self.repo = ProfileRepository(uow.session)

    def _ring(self) -> KeyRing:
        config = self.config
        if config.port is None or config.keyring is None:
            raise ProfilesDisabled(config.disabled_reason or "not configured")
        return config.keyring

    def require_enabled(self) -> TelegramProfilesPort:
        self._ring()
        assert self.config.port is not None
        return self.config.port

    # --- the form page's one-time codes ---------------------------------------------------------------------------

    async def issue_page_code(self, owner_id: int) -> tuple[str, int]:
        """A one-time code for the page that adds a profile (the bot's link); the store keeps only its digest."""
        code = secrets.token_urlsafe(24)
        seconds = self.config.page_code_seconds
        try:
            await self.uow.container.kv.set(_page_key(code), str(owner_id), ttl=seconds)
        except KeyValueUnavailable:
            raise StoreUnavailable() from None
        return code, seconds

    async def claim_page_code(self, code: str) -> int:
        """The owner a page code was issued to; it works once."""
        key = _page_key(code)
        kv = self.uow.container.kv
        try:
            owner = await kv.get(key)
            # The delete is the claim: of two requests with one code, only one deletes it.
            claimed = owner is not None and await kv.delete(key) == 1
        except KeyValueUnavailable:
            raise StoreUnavailable() from None
        if owner is None or not claimed:
            raise ValidationFailed("page_code_invalid", "This link is used or expired; ask the bot for a new one")
        return int(owner)

    # --- pending logins --------------------------------------------------------------------------------------------

    async def save_pending(self, owner_id: int, login: PendingLogin) -> datetime:
        ring = self._ring()
        now = self.uow.clock.now()
        expires_at = now + self.config.pending_ttl
        sealed = ring.seal(login.to_bytes(), pending_context(owner_id, login.phone))
        await self.repo.save_pending(
            owner_id, login.phone, sealed=sealed, key_id=ring.current_id, now=now, expires_at=expires_at
        )
        return expires_at

    async def pending(self, owner_id: int, phone: str) -> StoredPending:
        """The unexpired pending login; 410 when there is none (never started, expired or finished)."""
        ring = self._ring()
        row = await self.repo.pending(owner_id, phone, self.uow.clock.now())
        if row is None:
            raise CodeExpired()
        login = PendingLogin.from_bytes(ring.open(row.state_sealed, pending_context(owner_id, phone)))
        return StoredPending(row.id, login, row.failed_attempts)

    async def count_failure(self, owner_id: int, stored: StoredPending) -> int:
        """One more wrong code or password; the attempts left (the login is dropped at 0)."""
        failed = await self.repo.count_failed_attempt(owner_id, stored.id)
        left = max(0, self.config.max_code_attempts - failed)
        if left == 0:
            await self.repo.remove_pending(owner_id, stored.login.phone)
        return left

    async def purge_expired_pending(self, batch: int) -> int:
        return await self.repo.purge_expired_pending(self.uow.clock.now(), batch)

    async def drop_pending(self, owner_id: int, phone: str) -> None:
        await self.repo.remove_pending(owner_id, phone)

    async def complete_login(self, owner_id: int, phone: str, signed: SignedIn) -> ProfileDTO:
        """Keep the signed-in session (sealed) as the owner's profile for this phone, new or signed in again."""
        ring = self._ring()
        now = self.uow.clock.now()
        account = signed.account
        sealed = ring.seal(signed.session.text.encode(), session_context(owner_id, phone))
        row = await self.repo.by_phone(owner_id, phone)
        if row is None:
            row = TelegramProfile(owner_id=owner_id, phone=phone, created_at=now)
            self.repo.session.add(row)
        row.telegram_id = account.telegram_id
        row.first_name = account.first_name
        row.last_name = account.last_name
        row.username = account.username
        row.state = "active"
        row.session_sealed = sealed
        row.key_id = ring.current_id
        row.updated_at = now
        row.last_used_at = now
        await self.repo.session.flush()
        await self.repo.remove_pending(owner_id, phone)
        return profile_dto(row)

    # --- profiles --------------------------------------------------------------------------------------------------

    async def of_owner(self, owner_id: int) -> list[ProfileDTO]:
        return [profile_dto(row) for row in await self.repo.of_owner(owner_id)]

    async def get(self, owner_id: int, profile_id: int) -> ProfileDTO:
        row = await self.repo.get(owner_id, profile_id)
        if row is None:
            raise ProfileNotFound()
        return profile_dto(row)

    async def session_by_id(self, owner_id: int, profile_id: int) -> ProfileSession:
        return self._session(owner_id, await self.repo.get(owner_id, profile_id))

    async def session_by_phone(self, owner_id: int, phone: str) -> ProfileSession:
        return self._session(owner_id, await self.repo.by_phone(owner_id, phone))

    async def active_session(self, owner_id: int, phone: str) -> ProfileSession | None:
        """The session of the owner's active profile for this phone, if there is one."""
        row = await self.repo.by_phone(owner_id, phone)
        if row is None or row.state != "active" or row.session_sealed is None:
            return None
        return self._session(owner_id, row)

    async def sessions(self, owner_id: int) -> list[ProfileSession]:
        """The owner's active profiles' sessions."""
        return [self._session(owner_id, row) for row in await self.repo.of_owner(owner_id) if row.state == "active"]

    def _session(self, owner_id: int, row: TelegramProfile | None) -> ProfileSession:
        ring = self._ring()
        if row is None:
            raise ProfileNotFound()
        if row.state != "active" or row.session_sealed is None:
            raise ProfileRevoked()
        text = ring.open(row.session_sealed, session_context(owner_id, row.phone)).decode()
        return ProfileSession(row.id, SessionData(text))

    async def touch(self, owner_id: int, profile_id: int) -> None:
        await self.repo.touch(owner_id, profile_id, self.uow.clock.now())

    async def mark_revoked(self, owner_id: int, profile_id: int) -> None:
        await self.repo.mark_revoked(owner_id, profile_id, self.uow.clock.now())

    async def remove(self, owner_id: int, profile_id: int) -> bool:
        return await self.repo.remove(owner_id, profile_id)


def attempts_error(left: int) -> WrongCode:
    error = WrongCode(attempts_left=left)
    error.message = f"The login code is wrong; {left} attempts left" if left else "The login code is wrong; start again"
    return error


def _page_key(code: str) -> str:
    return "profiles:page:" + hashlib.sha256(code.encode()).hexdigest()
