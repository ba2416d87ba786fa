"""Sessions, tokens and revocation, shared by the REST API and the bot.

An `AuthService` is built on one unit of work and does everything in its transaction. What needs a password hashed
or verified runs through `core.auth.password_flows`, the one place that spans units of work.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.exc import IntegrityError

from core.auth.state import grace_key, publish_quietly
from core.auth.tokens import TokenType, hash_refresh_token, new_refresh_token
from core.container import UnitOfWork
from core.errors import Conflict, Forbidden, NotFound, Unauthorized
from core.users.dto import UserDTO
from core.users.referral import new_referral_code
from core.users.service import UserService
from storage.kv import KeyValueUnavailable
from storage.models.auth import AuthSession, RefreshToken
from storage.models.identity import Identity
from storage.models.user import User
from storage.repositories.auth import AuthRepository
from storage.repositories.identity import IdentityRepository
from storage.repositories.users import UserRepository

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ClientInfo:
    ip: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    session_id: str
    user_id: int
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret


@dataclass(frozen=True, slots=True)
class SessionDTO:
    id: str
    method: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    ip: str | None
    user_agent: str | None
    current: bool


@dataclass(frozen=True, slots=True)
class AuthConfig:
    access_ttl: timedelta
    refresh_ttl: timedelta
    refresh_grace: timedelta


@dataclass(frozen=True, slots=True)
class NewEmailUser:
    email: str
    email_key: str
    username: str | None
    username_key: str | None
    password_hash: str
    first_name: str | None
    last_name: str | None


class AuthService:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._session = uow.session
        self._repo = AuthRepository(uow.session)
        self._users = UserRepository(uow.session)
        container = uow.container
        self._codec = container.codec
        self._state = container.auth_state
        self._clock = uow.clock
        self.config = uow.config(AuthConfig)

    # --- accounts and sessions ----------------------------------------------------------------------------------

    async def create_email_user(self, new: NewEmailUser, client: ClientInfo) -> tuple[UserDTO, TokenPair]:
        """Create an email account (its password already hashed) and sign it in."""
        if await self._users.by_email_key(new.email_key) is not None:
            raise Conflict("email_taken", "Email already registered")
        if new.username_key and await self._users.username_taken(new.username_key):
            raise Conflict("username_taken", "This username is already taken")
        now = self._clock.now()
        user = User(
            email=new.email,
            email_key=new.email_key,
            username=new.username,
            username_key=new.username_key,
            password_hash=new.password_hash,
            referral_code=new_referral_code(),
            first_name=new.first_name,
            last_name=new.last_name,
            date_joined=now,
            last_login=now,
            created_at=now,
            updated_at=now,
        )
        try:
            async with self._session.begin_nested():
                await self._users.add(user)
                await IdentityRepository(self._session).add(
                    Identity(user_id=user.id, provider="email", subject=new.email_key, created_at=now)
                )
        except IntegrityError:
            # Another registration won the race between the check above and this insert.
            raise Conflict("email_taken", "Email already registered") from None
        pair = await self._open_session(user, "password", client)
        return UserDTO.from_model(user), pair

    async def open_session(self, user_id: int, *, method: str, client: ClientInfo) -> TokenPair:
        """A new session for a user who proved who they are (a password, Telegram sign-in, linking)."""
        user = await self._users.get(user_id)
        if user is None:
            raise NotFound("user_not_found", "User not found")
        if not user.is_active:
            raise Forbidden("account_disabled", "This account is disabled")
        user.last_login = self._clock.now()
        await UserService(self._uow).touch(user)
        return await self._open_session(user, method, client)

    async def _open_session(self, user: User, method: str, client: ClientInfo) -> TokenPair:
        now = self._clock.now()
        session = AuthSession(
            id=uuid.uuid4().hex,
            user_id=user.id,
            method=method,
            user_agent=client.user_agent[:512] if client.user_agent else None,
            ip=client.ip,
            created_at=now,
            last_used_at=now,
            expires_at=now + self.config.refresh_ttl,
        )
        await self._repo.add_session(session)
        return await self._issue(session, user, now)

    async def _issue(self, session: AuthSession, user: User, now: datetime) -> TokenPair:
        access = self._codec.encode(
            {"sid": session.id, "ver": user.token_version},
            token_type=TokenType.ACCESS,
            ttl=self.config.access_ttl,
            subject=str(user.id),
        )
        refresh, refresh_hash = new_refresh_token()
        await self._repo.add_refresh_token(RefreshToken(token_hash=refresh_hash, session_id=session.id, issued_at=now))
        session.access_jti = access.jti
        session.access_expires_at = access.expires_at
        return TokenPair(
            access_token=access.token,
            refresh_token=refresh,
            expires_in=int(self.config.access_ttl.total_seconds()),
            session_id=session.id,
            user_id=user.id,
        )

    # --- refresh ------------------------------------------------------------------------------------------------

    async def refresh(self, refresh_token: str, client: ClientInfo) -> TokenPair:
        """Rotate a refresh token. A reused one ends its session, and that revocation is committed before the
        refusal reaches the caller."""
        if not refresh_token or len(refresh_token) > 256:
            raise Unauthorized("invalid_refresh_token", "Invalid or expired refresh token")
        token_hash = hash_refresh_token(refresh_token)
        now = self._clock.now()
        repo = self._repo
        stored = await repo.refresh_token(token_hash)
        session = await repo.get_session(stored.session_id) if stored is not None else None
        if stored is None or session is None or session.revoked_at is not None or session.expires_at <= now:
            raise Unauthorized("invalid_refresh_token", "Invalid or expired refresh token")
        user = await self._users.get(session.user_id)
        if user is None or not user.is_active:
            raise Unauthorized("invalid_refresh_token", "Invalid or expired refresh token")
        if await repo.mark_replaced(token_hash, now):
            pair = await self._issue(session, user, now)
            session.last_used_at = now
            if client.ip:
                session.ip = client.ip
            # Written before the commit: a concurrent refresh waits for our lock and then needs it.
            await self._remember_successor(refresh_token, token_hash, pair)
            return pair
        # Lost the race (or the token was rotated earlier): read the row again, because the copy loaded above
        # predates the winner's commit on databases that do not serialize writers (PostgreSQL).
        await self._session.refresh(stored)
        replaced_at = stored.replaced_at
        if replaced_at is not None and now - replaced_at <= self.config.refresh_grace:
            successor = await self._recall_successor(refresh_token, token_hash)
            if successor is not None:
                return successor
        # An already rotated token outside the grace window: someone holds a copy. End the whole family.
        session.revoked_at = now
        self._uow.after_commit(self._publish_session_revoked(session.id, now))
        log.warning("refresh token reuse: session revoked", extra={"session_id": session.id})
        raise Unauthorized("refresh_token_reused", "Invalid or expired refresh token").keeping_writes()

    def _grace_cipher(self, refresh_token: str) -> AESGCM:
        # Only the holder of the old token can read its successor back out of the shared store.
        return AESGCM(hashlib.sha256(b"refresh-grace|" + refresh_token.encode()).digest())

    async def _remember_successor(self, refresh_token: str, token_hash: str, pair: TokenPair) -> None:
        if self.config.refresh_grace.total_seconds() <= 0:
            return
        nonce = os.urandom(12)
        sealed = self._grace_cipher(refresh_token).encrypt(nonce, json.dumps(asdict(pair)).encode(), None)
        try:
            await self._state.kv.set(
                grace_key(token_hash),
                base64.b64encode(nonce + sealed),
                ttl=self.config.refresh_grace.total_seconds() + 1,
            )
        except KeyValueUnavailable:
            log.warning("refresh grace store unavailable; a retried refresh will be refused")

    async def _recall_successor(self, refresh_token: str, token_hash: str) -> TokenPair | None:
        try:
            raw = await self._state.kv.get(grace_key(token_hash))
        except KeyValueUnavailable:
            return None
        if raw is None:
            return None
        try:
            blob = base64.b64decode(raw)
            plain = self._grace_cipher(refresh_token).decrypt(blob[:12], blob[12:], None)
            return TokenPair(**json.loads(plain))
        except (InvalidTag, ValueError, TypeError):
            return None

    # --- revocation ---------------------------------------------------------------------------------------------

    async def _publish_session_revoked(self, session_id: str, now: datetime) -> None:
        await publish_quietly("revoke_session", self._state.revoke_session(session_id, now + self.config.access_ttl))

    async def logout(self, *, user_id: int, session_id: str | None, jti: str, expires_at: datetime) -> datetime:
        now = self._clock.now()
        await self._repo.deny_access_token(jti, expires_at)
        if session_id is not None:
            session = await self._repo.get_session(session_id)
            if session is not None and session.user_id == user_id and session.revoked_at is None:
                session.revoked_at = now
                self._uow.after_commit(self._publish_session_revoked(session_id, now))
        self._uow.after_commit(publish_quietly("deny", self._state.deny(jti, expires_at)))
        return now

    async def revoke_session(self, *, user_id: int, session_id: str) -> None:
        now = self._clock.now()
        session = await self._repo.get_session(session_id)
        if session is None or session.user_id != user_id or session.revoked_at is not None:
            raise NotFound("session_not_found", "Session not found")
        session.revoked_at = now
        self._uow.after_commit(self._publish_session_revoked(session_id, now))

    async def revoke_all(self, user_id: int, *, reason: str) -> int:
        """Every session and every access token of the user, at once (logout everywhere, password change,
        account disabled, access level changed)."""
        user = await self._users.get(user_id)
        if user is None:
            raise NotFound("user_not_found", "User not found")
        count = await self.revoke_all_of(user)
        log.info("all sessions revoked", extra={"user_id": user_id, "reason": reason, "sessions": count})
        return count

    async def revoke_all_of(self, user: User) -> int:
        now = self._clock.now()
        sessions = await self._repo.active_sessions(user.id, now)
        for session in sessions:
            session.revoked_at = now
        # Access tokens carry the version they were issued under; raising it ends all of them.
        user.token_version += 1
        await UserService(self._uow).touch(user)
        return len(sessions)

    async def set_password(self, user_id: int, *, expected_hash: str, new_hash: str, client: ClientInfo) -> TokenPair:
        """Store a new password hash, sign out every session and open a fresh one for the caller."""
        user = await self._users.get(user_id)
        if user is None or user.password_hash != expected_hash:
            # Changed by another request meanwhile; make the caller start again.
            raise Conflict("password_changed", "The password was changed meanwhile; try again")
        user.password_hash = new_hash
        await self.revoke_all_of(user)
        # The caller proved the password twice; keep it signed in with a fresh session.
        return await self._open_session(user, "password", client)

    async def set_active(self, user_id: int, active: bool) -> None:
        user = await self._users.get(user_id)
        if user is None:
            raise NotFound("user_not_found", "User not found")
        user.is_active = active
        if active:
            await UserService(self._uow).touch(user)
        else:
            await self.revoke_all_of(user)

    async def list_sessions(self, *, user_id: int, current_session: str | None) -> list[SessionDTO]:
        sessions = await self._repo.active_sessions(user_id, self._clock.now())
        return [
            SessionDTO(
                id=session.id,
                method=session.method,
                created_at=session.created_at,
                last_used_at=session.last_used_at,
                expires_at=session.expires_at,
                ip=session.ip,
                user_agent=session.user_agent,
                current=session.id == current_session,
            )
            for session in sessions
        ]

    # --- maintenance (one batch per unit of work; the job repeats) --------------------------------------------

    async def purge_expired_batch(self, batch: int) -> int:
        """Delete up to `batch` expired sessions and as many denylist rows; the caller repeats while it gets a full
        batch back."""
        now = self._clock.now()
        removed = await self._repo.purge_expired_sessions(now, now - self.config.access_ttl, batch)
        return removed + await self._repo.purge_expired_denials(now, batch)

    async def revocations(self) -> tuple[list[tuple[str, datetime]], list[tuple[str, datetime]]]:
        """Denied token ids and revoked sessions that can still matter, to reload a store that lost them."""
        now = self._clock.now()
        denied = await self._repo.denied_since(now)
        revoked = await self._repo.sessions_revoked_after(now - self.config.access_ttl)
        return (
            [(row.jti, row.expires_at) for row in denied],
            [(row.id, row.revoked_at + self.config.access_ttl) for row in revoked if row.revoked_at is not None],
        )
