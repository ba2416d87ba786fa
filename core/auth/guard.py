"""The per-request access check, built so that a valid token costs no database round trip.

A verified token is cached by its exact string until it expires (signature checks are the most expensive part of
the check); the revocation state is read in one key-value round trip (one MGET on Redis, dictionary lookups in
memory); the user's profile is cached per process by revision and reloaded only when a newer revision was
published. When the store is unreachable the check falls back to the database instead of trusting anything.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

from core.auth.errors import InvalidTokenError
from core.auth.state import AuthState, TokenStatus, UserState
from core.auth.tokens import Claims, JwtCodec, TokenType
from core.clock import Clock
from core.errors import DomainError, Unauthorized, Unavailable
from core.users.dto import UserDTO
from storage.kv import KeyValueUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    session_id: str | None
    jti: str
    expires_at: datetime
    token_version: int


class Authenticated(NamedTuple):
    """One per authenticated request (a tuple: cheaper to make than a frozen dataclass)."""

    principal: Principal
    user: UserDTO


@dataclass(frozen=True, slots=True)
class InitDataProof:
    """What a verified initData string stands for: its Telegram account, that account's user, and until when."""

    telegram_id: int
    user_id: int
    jti: str
    expires: float


LoadUser = Callable[[int], Awaitable[UserDTO | None]]
# (denied, session revoked, user state) read from the database when the key-value store is down.
LoadStatus = Callable[[str, str | None, int], Awaitable[tuple[bool, bool, UserState | None]]]
# Verifies initData and finds (or creates) its user; the face runs it in a unit of work of its own.
ProveInitData = Callable[[str], Awaitable[InitDataProof]]


@dataclass(frozen=True, slots=True)
class _Verified:
    principal: Principal
    expires: float


def invalid(reason: str) -> Unauthorized:
    # One message for every failure: which check failed is for the log, not for the client.
    error = Unauthorized("invalid_token", "Invalid or expired token")
    error.reason = reason  # type: ignore[attr-defined]
    return error


class AccessGuard:
    """Long-lived caches in front of the database; the container gives it the reads it makes on a miss."""

    def __init__(
        self,
        *,
        codec: JwtCodec,
        state: AuthState,
        clock: Clock,
        cache_size: int,
        load_user: LoadUser,
        load_status: LoadStatus,
    ) -> None:
        self._codec = codec
        self._state = state
        self._load_user = load_user
        self._load_status = load_status
        self._clock = clock
        self._cache_size = cache_size
        self._tokens: OrderedDict[str, _Verified] = OrderedDict()
        self._users: OrderedDict[int, UserDTO] = OrderedDict()
        self._init_data: OrderedDict[bytes, InitDataProof] = OrderedDict()

    def _verify(self, token: str) -> Principal:
        now = self._clock.time()
        cached = self._tokens.get(token)
        if cached is not None:
            if cached.expires > now:
                return cached.principal
            del self._tokens[token]
            raise invalid("expired")
        try:
            claims: Claims = self._codec.decode(token, token_type=TokenType.ACCESS)
            user_id = int(claims.subject)
            version = claims.raw.get("ver")
            if not isinstance(version, int) or isinstance(version, bool):
                raise InvalidTokenError("bad_ver")
        except (InvalidTokenError, ValueError) as exc:
            raise invalid(getattr(exc, "reason", "bad_subject")) from None
        principal = Principal(
            user_id=user_id,
            session_id=claims.session_id,
            jti=claims.jti,
            expires_at=claims.expires_at,
            token_version=version,
        )
        if self._cache_size:
            self._tokens[token] = _Verified(principal, claims.expires_at.timestamp())
            if len(self._tokens) > self._cache_size:
                self._tokens.popitem(last=False)
        return principal

    async def authenticate(self, token: str) -> Authenticated:
        principal = self._verify(token)
        status = await self._status(principal.jti, principal.session_id, principal.user_id)
        if status.denied:
            raise invalid("denied")
        if status.session_revoked:
            raise invalid("session_revoked")
        user = await self._user(principal.user_id, status.user)
        # An inactive user is found here and refused by the access policy, which both faces apply.
        if user is None:
            raise invalid("user_gone")
        if user.token_version != principal.token_version:
            raise invalid("token_version")
        return Authenticated(principal=principal, user=user)

    async def _user(self, user_id: int, published: UserState | None) -> UserDTO | None:
        cached = self._users.get(user_id)
        if cached is not None and published is not None and cached.revision == published.revision:
            return cached
        user = await self._load_user(user_id)
        if user is None:
            self._users.pop(user_id, None)
            return None
        if published is None:
            with suppress(KeyValueUnavailable):
                await self._state.offer_user(user_id, UserState(user.token_version, user.is_active, user.revision))
        elif published.revision > user.revision:
            # A replica published a change our read did not see yet (read replica lag); do not cache.
            return user
        elif published.revision < user.revision:
            # An earlier publication was lost (store outage); repair it so other requests stop reloading.
            with suppress(KeyValueUnavailable):
                await self._state.publish_user(user_id, UserState(user.token_version, user.is_active, user.revision))
        if self._cache_size:
            self._users[user_id] = user
            self._users.move_to_end(user_id)
            if len(self._users) > self._cache_size:
                self._users.popitem(last=False)
        return user

    async def _status(self, jti: str, session_id: str | None, user_id: int) -> TokenStatus:
        try:
            return await self._state.status(jti, session_id, user_id)
        except KeyValueUnavailable:
            log.warning("auth state store unavailable; checking the database")
            return await self._status_from_database(jti, session_id, user_id)

    async def _status_from_database(self, jti: str, session_id: str | None, user_id: int) -> TokenStatus:
        denied, session_revoked, user = await self._load_status(jti, session_id, user_id)
        return TokenStatus(denied=denied, session_revoked=session_revoked, user=user)

    # --- Authorization: tma <initData> ---------------------------------------------------------------------

    @property
    def cached_init_data(self) -> int:
        return len(self._init_data)

    async def authenticate_init_data(self, raw: str, prove: ProveInitData) -> Authenticated:
        """The Mini App's `tma` scheme: valid initData stands for its Telegram user until it is too old.

        A proof is cached per process by digest, so a Mini App that sends the same header on every call costs one
        HMAC and one user lookup, not one per request; revocation and the user's state are checked every time.
        """
        key = hashlib.sha256(raw.encode("utf-8", "surrogatepass")).digest()
        proof = self._init_data.get(key)
        if proof is not None and proof.expires <= self._clock.time():
            del self._init_data[key]
            proof = None
        if proof is None:
            proof = await self._prove(raw, prove)
        status = await self._status(proof.jti, None, proof.user_id)
        if status.denied:
            raise invalid("denied")
        user = await self._user(proof.user_id, status.user)
        if user is None or user.telegram_id != proof.telegram_id:
            # The Telegram account moved to another user (linked, unlinked): resolve it again.
            self._init_data.pop(key, None)
            proof = await self._prove(raw, prove)
            user = await self._user(proof.user_id, (await self._status(proof.jti, None, proof.user_id)).user)
        if user is None:
            raise invalid("user_gone")
        if self._cache_size:
            self._init_data[key] = proof
            self._init_data.move_to_end(key)
            if len(self._init_data) > self._cache_size:
                self._init_data.popitem(last=False)
        principal = Principal(
            user_id=user.id,
            session_id=None,
            jti=proof.jti,
            expires_at=datetime.fromtimestamp(proof.expires, UTC),
            token_version=user.token_version,
        )
        return Authenticated(principal=principal, user=user)

    async def _prove(self, raw: str, prove: ProveInitData) -> InitDataProof:
        try:
            return await prove(raw)
        except Unavailable:
            # The database was busy: the credential may be fine, so the client should retry, not sign in again.
            raise
        except DomainError as exc:
            # Malformed and forged alike: for a credential header the client's only move is to sign in again.
            raise invalid("init_data") from exc

    def forget_user(self, user_id: int) -> None:
        """Local shortcut after a change made by this process; other replicas learn it from the store."""
        self._users.pop(user_id, None)
