"""Revocation and user state shared by every replica through the key-value store.

The database is the record; the store is what the per-request check reads, so that a request with a valid token
costs no database round trip. Every write to the database that changes what a token may do is published here
after its commit, and the denylist is reloaded from the database whenever the store has lost it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable
from contextlib import suppress
from datetime import datetime
from typing import NamedTuple

from core.clock import Clock
from storage.kv import KeyValueStore, KeyValueUnavailable

log = logging.getLogger(__name__)

# Bounds how long a state published while the store was failing can stay wrong.
USER_STATE_TTL = 600.0
WARM_MARKER = "auth:denylist-warm"


def deny_key(jti: str) -> str:
    return f"auth:deny:{jti}"


def session_key(session_id: str) -> str:
    return f"auth:session-revoked:{session_id}"


def user_key(user_id: int) -> str:
    return f"auth:user:{user_id}"


def grace_key(token_hash: str) -> str:
    return f"auth:grace:{token_hash}"


class UserState(NamedTuple):
    """What a token check needs to know of its user. Tuples here and below: these are made on every request, and a
    frozen dataclass's constructor costs several times as much."""

    token_version: int
    is_active: bool
    revision: int

    def encode(self) -> bytes:
        return f"{self.token_version}:{int(self.is_active)}:{self.revision}".encode()

    @classmethod
    def decode(cls, raw: bytes) -> UserState | None:
        return _decode_user_state(raw)


@functools.lru_cache(maxsize=4096)
def _decode_user_state(raw: bytes) -> UserState | None:
    # Every request of a user reads the same published bytes until the user changes.
    try:
        version, active, revision = raw.split(b":")
        return UserState(int(version), active == b"1", int(revision))
    except ValueError:
        return None


class TokenStatus(NamedTuple):
    denied: bool
    session_revoked: bool
    user: UserState | None


class AuthState:
    def __init__(self, kv: KeyValueStore, clock: Clock) -> None:
        self.kv = kv
        self.clock = clock

    def _remaining(self, until: datetime) -> float:
        return max(1.0, until.timestamp() - self.clock.time())

    async def deny(self, jti: str, expires_at: datetime) -> None:
        await self.kv.set(deny_key(jti), b"1", ttl=self._remaining(expires_at))

    async def revoke_session(self, session_id: str, until: datetime) -> None:
        """Mark a session revoked for as long as any access token it issued can live."""
        await self.kv.set(session_key(session_id), b"1", ttl=self._remaining(until))

    async def publish_user(self, user_id: int, state: UserState) -> None:
        await self.kv.set(user_key(user_id), state.encode(), ttl=USER_STATE_TTL)

    async def offer_user(self, user_id: int, state: UserState) -> None:
        """Cache a state read from the database, unless a newer one was published meanwhile."""
        await self.kv.set_if_absent(user_key(user_id), state.encode(), ttl=USER_STATE_TTL)

    async def status(self, jti: str, session_id: str | None, user_id: int) -> TokenStatus:
        """Everything a token check needs, in one round trip. Raises KeyValueUnavailable."""
        denied, revoked, user = await self.kv.get_many(
            deny_key(jti), session_key(session_id or "-"), user_key(user_id)
        )
        return TokenStatus(
            denied=denied is not None,
            session_revoked=revoked is not None,
            user=UserState.decode(user) if user is not None else None,
        )

    async def mark_warm(self) -> None:
        await self.kv.set(WARM_MARKER, b"1")

    async def forget_warm(self) -> None:
        with suppress(KeyValueUnavailable):
            await self.kv.delete(WARM_MARKER)

    async def needs_warming(self) -> bool:
        try:
            return await self.kv.set_if_absent(WARM_MARKER, b"1")
        except KeyValueUnavailable:
            return False


async def publish_quietly(action: str, publish: Awaitable[None]) -> None:
    """Run a publication after a commit; the commit stands even when the store is down."""
    try:
        await publish
    except KeyValueUnavailable:
        log.warning("could not publish auth state to the key-value store", extra={"action": action})
