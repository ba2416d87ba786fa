"""The per-request access check, built so that a valid token costs no database round trip.

A verified token is cached by its exact string until it expires (signature checks are the most expensive part of
the check); the revocation state is read in one key-value round trip (one MGET on Redis, dictionary lookups in
memory); the user's profile is cached per process by revision and reloaded only when a newer revision was
published. When the store is unreachable the check falls back to the database instead of trusting anything.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from core.auth.errors import InvalidTokenError
from core.auth.state import AuthState, TokenStatus, UserState
from core.auth.tokens import Claims, JwtCodec, TokenType
from core.clock import Clock
from core.errors import Unauthorized
from core.users.dto import UserDTO
from storage.kv import KeyValueUnavailable
from storage.repositories.auth import AuthRepository
from storage.repositories.users import UserRepository

if TYPE_CHECKING:
    from core.services import ServiceFactory

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    session_id: str | None
    jti: str
    expires_at: datetime
    token_version: int


@dataclass(frozen=True, slots=True)
class Authenticated:
    principal: Principal
    user: UserDTO


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
    def __init__(
        self, *, codec: JwtCodec, state: AuthState, factory: ServiceFactory, clock: Clock, cache_size: int
    ) -> None:
        self._codec = codec
        self._state = state
        self._factory = factory
        self._clock = clock
        self._cache_size = cache_size
        self._tokens: OrderedDict[str, _Verified] = OrderedDict()
        self._users: OrderedDict[int, UserDTO] = OrderedDict()

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
        try:
            status = await self._state.status(principal.jti, principal.session_id, principal.user_id)
        except KeyValueUnavailable:
            log.warning("auth state store unavailable; checking the database")
            status = await self._status_from_database(principal)
        if status.denied:
            raise invalid("denied")
        if status.session_revoked:
            raise invalid("session_revoked")
        user = await self._user(principal.user_id, status.user)
        if user is None or not user.is_active:
            raise invalid("user_inactive")
        if user.token_version != principal.token_version:
            raise invalid("token_version")
        return Authenticated(principal=principal, user=user)

    async def _user(self, user_id: int, published: UserState | None) -> UserDTO | None:
        cached = self._users.get(user_id)
        if cached is not None and published is not None and cached.revision == published.revision:
            return cached
        async with self._factory.unit_of_work(write=False) as uow:
            row = await UserRepository(uow.session).get(user_id)
            user = UserDTO.from_model(row) if row is not None else None
        if user is None:
            self._users.pop(user_id, None)
            return None
        if published is None:
            with suppress(KeyValueUnavailable):
                await self._state.offer_user(
                    user_id, UserState(user.token_version, user.is_active, user.revision)
                )
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

    async def _status_from_database(self, principal: Principal) -> TokenStatus:
        async with self._factory.unit_of_work(write=False) as uow:
            repo = AuthRepository(uow.session)
            denied = await repo.is_denied(principal.jti)
            session = await repo.get_session(principal.session_id) if principal.session_id else None
            user = await UserRepository(uow.session).get(principal.user_id)
            state = UserState(user.token_version, user.is_active, user.revision) if user is not None else None
        return TokenStatus(
            denied=denied,
            session_revoked=session is not None and session.revoked_at is not None,
            user=state,
        )

    def forget_user(self, user_id: int) -> None:
        """Local shortcut after a change made by this process; other replicas learn it from the store."""
        self._users.pop(user_id, None)
