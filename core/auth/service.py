"""Sign-up, sign-in, sessions and revocation, shared by the REST API and the bot.

Password hashing and verification run outside any transaction: an argon2 call takes tens of milliseconds, and
holding SQLite's write lock (or a PostgreSQL row lock) that long would serialize every sign-in. So a sign-in reads
in one short unit of work, verifies, and writes in a second one.
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
from typing import TYPE_CHECKING, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.exc import IntegrityError

from core.auth.errors import PasswordPolicyError
from core.auth.passwords import PasswordService, check_password_policy
from core.auth.state import AuthState, UserState, grace_key, publish_quietly
from core.auth.tokens import JwtCodec, TokenType, hash_refresh_token, new_refresh_token
from core.clock import Clock
from core.errors import Conflict, Forbidden, NotFound, TooManyRequests, Unauthorized, ValidationFailed
from core.users.dto import UserDTO
from core.users.normalize import email_key, is_email, login_key, username_key
from core.users.referral import new_referral_code
from storage.kv import KeyValueUnavailable
from storage.models.auth import AuthSession, RefreshToken
from storage.models.identity import Identity
from storage.models.user import User
from storage.repositories.auth import AuthRepository
from storage.repositories.identity import IdentityRepository
from storage.repositories.users import UserRepository

if TYPE_CHECKING:
    # The factory builds this service and this service opens units of work through the factory.
    from core.services import ServiceFactory, UnitOfWork

log = logging.getLogger(__name__)

PURGE_BATCH = 500


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


class Throttle(Protocol):
    async def retry_after(self, account: str, ip: str) -> int | None: ...

    async def record_failure(self, account: str, ip: str) -> None: ...

    async def record_success(self, account: str, ip: str) -> None: ...


@dataclass(frozen=True, slots=True)
class _PasswordMatch:
    user_id: int
    stored_hash: str
    needs_rehash: bool


def user_state(user: User) -> UserState:
    return UserState(token_version=user.token_version, is_active=user.is_active, revision=user.revision)


class AuthService:
    def __init__(
        self,
        *,
        factory: ServiceFactory,
        codec: JwtCodec,
        passwords: PasswordService,
        state: AuthState,
        throttle: Throttle,
        clock: Clock,
        config: AuthConfig,
    ) -> None:
        self._factory = factory
        self._codec = codec
        self._passwords = passwords
        self._state = state
        self._throttle = throttle
        self._clock = clock
        self.config = config

    # --- registration and sign-in ----------------------------------------------------------------------------

    async def register_email(
        self,
        *,
        email: str,
        password: str,
        first_name: str | None,
        last_name: str | None,
        username: str | None,
        client: ClientInfo,
    ) -> tuple[UserDTO, TokenPair]:
        if not is_email(email):
            raise ValidationFailed("invalid_email", "This is not a valid email address")
        try:
            check_password_policy(password)
        except PasswordPolicyError as exc:
            raise ValidationFailed(exc.code, exc.message) from None
        key = email_key(email)
        name_key = username_key(username) if username else None
        async with self._factory.unit_of_work(write=False) as uow:
            users = UserRepository(uow.session)
            if await users.by_email_key(key) is not None:
                raise Conflict("email_taken", "Email already registered")
            if name_key and await users.username_taken(name_key):
                raise Conflict("username_taken", "This username is already taken")
        password_hash = await self._passwords.hash(password)
        now = self._clock.now()
        async with self._factory.unit_of_work() as uow:
            users = UserRepository(uow.session)
            # Checked again inside the write transaction: another registration may have won meanwhile.
            if await users.by_email_key(key) is not None:
                raise Conflict("email_taken", "Email already registered")
            user = User(
                email=email,
                email_key=key,
                username=username,
                username_key=name_key,
                password_hash=password_hash,
                referral_code=new_referral_code(),
                first_name=first_name,
                last_name=last_name,
                date_joined=now,
                last_login=now,
                created_at=now,
                updated_at=now,
            )
            try:
                async with uow.session.begin_nested():
                    await users.add(user)
                    await IdentityRepository(uow.session).add(
                        Identity(user_id=user.id, provider="email", subject=key, created_at=now)
                    )
            except IntegrityError:
                raise Conflict("email_taken", "Email already registered") from None
            pair = await self._open_session(AuthRepository(uow.session), user, "password", client)
            dto = UserDTO.from_model(user)
        return dto, pair

    async def _check_password(self, login: str, password: str, client: ClientInfo) -> _PasswordMatch:
        """Throttling, constant-looking timing and failure counting shared by every password check."""
        account = login_key(login)
        ip = client.ip or "unknown"
        wait = await self._throttle.retry_after(account, ip)
        if wait is not None:
            raise TooManyRequests("login_throttled", "Too many failed sign-ins; try again later", retry_after=wait)
        async with self._factory.unit_of_work(write=False) as uow:
            user = await UserRepository(uow.session).by_login_key(account)
            stored_hash = user.password_hash if user is not None else None
            user_id = user.id if user is not None else None
            active = user.is_active if user is not None else False
        if stored_hash is None or user_id is None:
            # Same work as a wrong password, so the answer's timing does not tell which accounts exist.
            await self._passwords.verify_dummy(password)
            await self._throttle.record_failure(account, ip)
            raise Unauthorized("invalid_credentials", "Incorrect email/username or password")
        result = await self._passwords.verify(stored_hash, password)
        if not result.ok:
            await self._throttle.record_failure(account, ip)
            raise Unauthorized("invalid_credentials", "Incorrect email/username or password")
        await self._throttle.record_success(account, ip)
        if not active:
            raise Forbidden("account_disabled", "This account is disabled")
        return _PasswordMatch(user_id=user_id, stored_hash=stored_hash, needs_rehash=result.needs_rehash)

    async def login(self, *, login: str, password: str, client: ClientInfo) -> tuple[UserDTO, TokenPair]:
        match = await self._check_password(login, password, client)
        new_hash = await self._passwords.hash(password) if match.needs_rehash else None
        async with self._factory.unit_of_work() as uow:
            user = await UserRepository(uow.session).get(match.user_id)
            if user is None:
                raise Unauthorized("invalid_credentials", "Incorrect email/username or password")
            if not user.is_active:
                raise Forbidden("account_disabled", "This account is disabled")
            if new_hash is not None and user.password_hash == match.stored_hash:
                user.password_hash = new_hash
            user.last_login = self._clock.now()
            await uow.users.touch(user)
            pair = await self._open_session(AuthRepository(uow.session), user, "password", client)
            dto = UserDTO.from_model(user)
        return dto, pair

    async def verify_credentials(self, *, login: str, password: str, client: ClientInfo) -> int:
        """The user id behind a login and password, with the same throttling and timing as a sign-in."""
        return (await self._check_password(login, password, client)).user_id

    async def open_session(self, user_id: int, *, method: str, client: ClientInfo) -> TokenPair:
        """A new session for a user who proved who they are some other way (Telegram sign-in, linking)."""
        async with self._factory.unit_of_work() as uow:
            user = await UserRepository(uow.session).get(user_id)
            if user is None:
                raise NotFound("user_not_found", "User not found")
            if not user.is_active:
                raise Forbidden("account_disabled", "This account is disabled")
            user.last_login = self._clock.now()
            await uow.users.touch(user)
            return await self._open_session(AuthRepository(uow.session), user, method, client)

    async def _open_session(self, repo: AuthRepository, user: User, method: str, client: ClientInfo) -> TokenPair:
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
        await repo.add_session(session)
        return await self._issue(repo, session, user, now)

    async def _issue(self, repo: AuthRepository, session: AuthSession, user: User, now: datetime) -> TokenPair:
        access = self._codec.encode(
            {"sid": session.id, "ver": user.token_version},
            token_type=TokenType.ACCESS,
            ttl=self.config.access_ttl,
            subject=str(user.id),
        )
        refresh, refresh_hash = new_refresh_token()
        await repo.add_refresh_token(RefreshToken(token_hash=refresh_hash, session_id=session.id, issued_at=now))
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
        if not refresh_token or len(refresh_token) > 256:
            raise Unauthorized("invalid_refresh_token", "Invalid or expired refresh token")
        token_hash = hash_refresh_token(refresh_token)
        now = self._clock.now()
        reuse_of: str | None = None
        async with self._factory.unit_of_work() as uow:
            repo = AuthRepository(uow.session)
            stored = await repo.refresh_token(token_hash)
            session = await repo.get_session(stored.session_id) if stored is not None else None
            if stored is None or session is None or session.revoked_at is not None or session.expires_at <= now:
                raise Unauthorized("invalid_refresh_token", "Invalid or expired refresh token")
            user = await UserRepository(uow.session).get(session.user_id)
            if user is None or not user.is_active:
                raise Unauthorized("invalid_refresh_token", "Invalid or expired refresh token")
            if await repo.mark_replaced(token_hash, now):
                pair = await self._issue(repo, session, user, now)
                session.last_used_at = now
                if client.ip:
                    session.ip = client.ip
                # Written before the commit: a concurrent refresh waits for our lock and then needs it.
                await self._remember_successor(refresh_token, token_hash, pair)
                return pair
            # Lost the race (or the token was rotated earlier): read the row again, because the copy loaded above
            # predates the winner's commit on databases that do not serialize writers (PostgreSQL).
            await uow.session.refresh(stored)
            replaced_at = stored.replaced_at
            if replaced_at is not None and now - replaced_at <= self.config.refresh_grace:
                successor = await self._recall_successor(refresh_token, token_hash)
                if successor is not None:
                    return successor
            # An already rotated token outside the grace window: someone holds a copy. End the whole family.
            session.revoked_at = now
            reuse_of = session.id
            uow.after_commit(self._publish_session_revoked(session.id, now))
        log.warning("refresh token reuse: session revoked", extra={"session_id": reuse_of})
        raise Unauthorized("refresh_token_reused", "Invalid or expired refresh token")

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
        async with self._factory.unit_of_work() as uow:
            repo = AuthRepository(uow.session)
            await repo.deny_access_token(jti, expires_at)
            if session_id is not None:
                session = await repo.get_session(session_id)
                if session is not None and session.user_id == user_id and session.revoked_at is None:
                    session.revoked_at = now
                    uow.after_commit(self._publish_session_revoked(session_id, now))
            uow.after_commit(publish_quietly("deny", self._state.deny(jti, expires_at)))
        return now

    async def revoke_session(self, *, user_id: int, session_id: str) -> None:
        now = self._clock.now()
        async with self._factory.unit_of_work() as uow:
            session = await AuthRepository(uow.session).get_session(session_id)
            if session is None or session.user_id != user_id or session.revoked_at is not None:
                raise NotFound("session_not_found", "Session not found")
            session.revoked_at = now
            uow.after_commit(self._publish_session_revoked(session_id, now))

    async def revoke_all(self, user_id: int, *, reason: str) -> int:
        """Every session and every access token of the user, at once (logout everywhere, password change,
        account disabled, access level changed)."""
        async with self._factory.unit_of_work() as uow:
            user = await UserRepository(uow.session).get(user_id)
            if user is None:
                raise NotFound("user_not_found", "User not found")
            count = await self._revoke_all_in(uow, user)
        log.info("all sessions revoked", extra={"user_id": user_id, "reason": reason, "sessions": count})
        return count

    async def _revoke_all_in(self, uow: UnitOfWork, user: User) -> int:
        now = self._clock.now()
        repo = AuthRepository(uow.session)
        sessions = await repo.active_sessions(user.id, now)
        for session in sessions:
            session.revoked_at = now
        # Access tokens carry the version they were issued under; raising it ends all of them.
        user.token_version += 1
        await uow.users.touch(user)
        return len(sessions)

    async def change_password(
        self, *, user_id: int, current_password: str, new_password: str, client: ClientInfo
    ) -> TokenPair:
        try:
            check_password_policy(new_password)
        except PasswordPolicyError as exc:
            raise ValidationFailed(exc.code, exc.message) from None
        async with self._factory.unit_of_work(write=False) as uow:
            user = await UserRepository(uow.session).get(user_id)
            stored_hash = user.password_hash if user is not None else None
        if stored_hash is None:
            await self._passwords.verify_dummy(current_password)
            raise Unauthorized("invalid_credentials", "The current password is not correct")
        if not (await self._passwords.verify(stored_hash, current_password)).ok:
            raise Unauthorized("invalid_credentials", "The current password is not correct")
        new_hash = await self._passwords.hash(new_password)
        async with self._factory.unit_of_work() as uow:
            user = await UserRepository(uow.session).get(user_id)
            if user is None or user.password_hash != stored_hash:
                # Changed by another request meanwhile; make the caller start again.
                raise Conflict("password_changed", "The password was changed meanwhile; try again")
            user.password_hash = new_hash
            await self._revoke_all_in(uow, user)
            # The caller proved the password twice; keep it signed in with a fresh session.
            return await self._open_session(AuthRepository(uow.session), user, "password", client)

    async def set_active(self, user_id: int, active: bool) -> None:
        async with self._factory.unit_of_work() as uow:
            user = await UserRepository(uow.session).get(user_id)
            if user is None:
                raise NotFound("user_not_found", "User not found")
            user.is_active = active
            if active:
                await uow.users.touch(user)
            else:
                await self._revoke_all_in(uow, user)

    async def list_sessions(self, *, user_id: int, current_session: str | None) -> list[SessionDTO]:
        async with self._factory.unit_of_work(write=False) as uow:
            sessions = await AuthRepository(uow.session).active_sessions(user_id, self._clock.now())
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

    # --- maintenance --------------------------------------------------------------------------------------------

    async def purge_expired(self) -> int:
        """Delete expired sessions and denylist rows in small batches, each its own short transaction."""
        removed = 0
        while True:
            now = self._clock.now()
            async with self._factory.unit_of_work() as uow:
                repo = AuthRepository(uow.session)
                batch = await repo.purge_expired_sessions(now, now - self.config.access_ttl, PURGE_BATCH)
                batch += await repo.purge_expired_denials(now, PURGE_BATCH)
            removed += batch
            if batch < PURGE_BATCH:
                return removed

    async def warm_denylist(self, *, force: bool = False) -> int:
        """Reload revocations from the database into a store that lost them (a restart of either)."""
        if force:
            await self._state.mark_warm()
        elif not await self._state.needs_warming():
            return 0
        now = self._clock.now()
        async with self._factory.unit_of_work(write=False) as uow:
            repo = AuthRepository(uow.session)
            denied = await repo.denied_since(now)
            revoked = await repo.sessions_revoked_after(now - self.config.access_ttl)
            pairs = [(row.jti, row.expires_at) for row in denied]
            sessions = [(row.id, row.revoked_at) for row in revoked]
        try:
            for jti, expires_at in pairs:
                await self._state.deny(jti, expires_at)
            for session_id, revoked_at in sessions:
                if revoked_at is not None:
                    await self._state.revoke_session(session_id, revoked_at + self.config.access_ttl)
        except KeyValueUnavailable:
            await self._state.forget_warm()
            raise
        return len(pairs) + len(sessions)

