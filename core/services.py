"""The domain's entry point for both faces.

`ServiceFactory` is built once per process by the composition root and holds what lives that long (the database,
the key-value store, the token codec, the password hasher, the limiters). `UnitOfWork` is one transaction with the
services that work inside it, built per update or request and never kept after its block ends.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from core.auth.guard import AccessGuard
from core.auth.passwords import PasswordService
from core.auth.service import AuthConfig, AuthService, Throttle, user_state
from core.auth.state import AuthState, publish_quietly
from core.auth.tokens import JwtCodec
from core.clock import Clock
from core.identity.service import IdentityConfig, IdentityService
from core.ratelimit import RateLimiter
from core.users.service import UserService
from storage.db import Database
from storage.kv import KeyValueStore
from storage.models.user import User

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DomainConfig:
    languages: tuple[str, ...]
    access_ttl: timedelta = timedelta(minutes=15)
    refresh_ttl: timedelta = timedelta(days=30)
    refresh_grace: timedelta = timedelta(seconds=10)
    token_cache_size: int = 10000


class UnitOfWork:
    """Services sharing one session, plus work to do once the transaction has committed."""

    def __init__(self, session: AsyncSession, factory: ServiceFactory) -> None:
        self.session = session
        self._factory = factory
        self._after_commit: list[Awaitable[None]] = []
        self.users = UserService(
            session, factory.clock, languages=factory.config.languages, on_change=self._user_changed
        )

    def after_commit(self, action: Awaitable[None]) -> None:
        """Publish to shared state only what the database really holds: nothing runs if the commit fails."""
        self._after_commit.append(action)

    def _user_changed(self, user: User) -> None:
        state = user_state(user)
        self._factory.guard.forget_user(user.id)
        self.after_commit(publish_quietly("publish_user", self._factory.auth_state.publish_user(user.id, state)))

    async def _run_after_commit(self) -> None:
        for action in self._after_commit:
            await action

    def _discard(self) -> None:
        for action in self._after_commit:
            # Never awaited: close the coroutines so they do not warn.
            close = getattr(action, "close", None)
            if close is not None:
                close()


class ServiceFactory:
    def __init__(
        self,
        *,
        db: Database,
        kv: KeyValueStore,
        clock: Clock,
        config: DomainConfig,
        codec: JwtCodec,
        passwords: PasswordService,
        limiter: RateLimiter,
        throttle: Throttle,
        identity: IdentityConfig,
    ) -> None:
        self.db = db
        self.kv = kv
        self.clock = clock
        self.config = config
        self.codec = codec
        self.passwords = passwords
        self.limiter = limiter
        self.auth_state = AuthState(kv, clock)
        self.guard = AccessGuard(
            codec=codec, state=self.auth_state, factory=self, clock=clock, cache_size=config.token_cache_size
        )
        self.auth = AuthService(
            factory=self,
            codec=codec,
            passwords=passwords,
            state=self.auth_state,
            throttle=throttle,
            clock=clock,
            config=AuthConfig(
                access_ttl=config.access_ttl, refresh_ttl=config.refresh_ttl, refresh_grace=config.refresh_grace
            ),
        )
        self.identity = IdentityService(factory=self, auth=self.auth, clock=clock, config=identity)

    @asynccontextmanager
    async def unit_of_work(self, *, write: bool = True) -> AsyncIterator[UnitOfWork]:
        uow: UnitOfWork | None = None
        try:
            async with self.db.unit_of_work(write=write) as session:
                uow = UnitOfWork(session, self)
                yield uow
        except BaseException:
            if uow is not None:
                uow._discard()
            raise
        await uow._run_after_commit()

    async def close(self) -> None:
        self.passwords.close()
