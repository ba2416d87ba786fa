"""Long-lived infrastructure and the unit of work.

`Container` is built once per process by the composition root (run.py) and holds what lives that long: the
database, the key-value store, the clock, the token codec, the password hasher, the limiters, the access guard's
caches, and each feature's configuration. It opens units of work; nothing else in the domain does.

`UnitOfWork` is one transaction. The faces (an aiohttp request, an aiogram update, a scheduled job, a command)
open one and build the services they call on it: `AuthService(uow)`, `UserService(uow)`. Services never open a
unit of work of their own, so everything a request or an update writes commits or rolls back together.

Password hashing is the one kind of work that must not run inside a transaction (an argon2 call takes tens of
milliseconds, and holding SQLite's write lock or a PostgreSQL row lock that long serializes every sign-in). It has
one pattern, `Container.read_compute_write`: read in a read-only unit of work, compute outside any transaction,
write in a new unit of work. `core/auth/password_flows.py` holds every use of it.

A read that turns out to need a write (a user's first use of finance makes their personal family) raises
`WriteNeeded` before doing anything visible; `Container.run` then does the whole update or request again in a
writing unit of work. Both faces open their units through `run`, so reads stay cheap and first use still works.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from core.auth.guard import AccessGuard
from core.auth.passwords import PasswordService
from core.auth.state import AuthState, UserState, publish_quietly
from core.auth.tokens import JwtCodec
from core.clock import Clock
from core.errors import DomainError, Unavailable
from core.login_throttle import LoginThrottle
from core.notify import Notifier, NullNotifier
from core.ratelimit import RateLimiter
from core.users.dto import UserDTO
from storage.db import Database, DatabaseBusy
from storage.kv import KeyValueStore
from storage.models.user import User
from storage.repositories.auth import AuthRepository
from storage.repositories.users import UserRepository

log = logging.getLogger(__name__)

T = TypeVar("T")
S = TypeVar("S")
C = TypeVar("C")
R = TypeVar("R")


@dataclass
class Links:
    """Where people are sent: the bot's username (from getMe) and the web server's public address. Known only once
    the bot and the web server have started, so the composition root fills them in then."""

    bot_username: str | None = None
    public_base_url: str | None = None


def busy() -> Unavailable:
    return Unavailable("database_busy", "The service is busy; try again in a moment", retry_after=1)


class WriteNeeded(Exception):
    """A reading unit of work found it must write; `Container.run` does the work again in a writing one."""


class UnitOfWork:
    """One transaction, the session it runs on, and work to do once it has committed."""

    def __init__(self, session: AsyncSession, container: Container, *, write: bool) -> None:
        self.session = session
        self.container = container
        self.write = write
        self.clock = container.clock
        # The language of the person this unit serves, when the face knows it (for what it creates in their name).
        self.language: str | None = None
        self._after_commit: list[Awaitable[None]] = []

    def need_write(self) -> None:
        """Call before writing where a read may have led: in a reading unit it ends the unit to be run again."""
        if not self.write:
            raise WriteNeeded

    def config(self, kind: type[T]) -> T:
        return self.container.config(kind)

    def after_commit(self, action: Awaitable[None]) -> None:
        """Publish to shared state only what the database really holds: nothing runs if the commit fails."""
        self._after_commit.append(action)

    def user_changed(self, user: User) -> None:
        """Called by whatever changed a user row: caches reload it after the commit, on every replica."""
        container = self.container
        container.guard.forget_user(user.id)
        state = UserState(token_version=user.token_version, is_active=user.is_active, revision=user.revision)
        self.after_commit(publish_quietly("publish_user", container.auth_state.publish_user(user.id, state)))

    async def _run_after_commit(self) -> None:
        for action in self._after_commit:
            await action

    def _discard(self) -> None:
        for action in self._after_commit:
            # Never awaited: close the coroutines so they do not warn.
            close = getattr(action, "close", None)
            if close is not None:
                close()


class Container:
    def __init__(
        self,
        *,
        db: Database,
        kv: KeyValueStore,
        clock: Clock,
        codec: JwtCodec,
        passwords: PasswordService,
        limiter: RateLimiter,
        throttle: LoginThrottle,
        configs: Iterable[object] = (),
        token_cache_size: int = 10000,
        notifier: Notifier | None = None,
    ) -> None:
        self.db = db
        self.kv = kv
        self.clock = clock
        self.codec = codec
        self.passwords = passwords
        self.limiter = limiter
        self.throttle = throttle
        self.links = Links()
        self.notifier: Notifier = notifier or NullNotifier()
        self.auth_state = AuthState(kv, clock)
        self.guard = AccessGuard(
            codec=codec,
            state=self.auth_state,
            clock=clock,
            cache_size=token_cache_size,
            load_user=self._load_user,
            load_status=self._load_status,
        )
        self._configs: dict[type, object] = {}
        for config in configs:
            if type(config) in self._configs:
                raise ValueError(f"two configurations of type {type(config).__name__}")
            self._configs[type(config)] = config

    def config(self, kind: type[T]) -> T:
        """A feature's configuration, as the composition root translated it from settings."""
        try:
            found = self._configs[kind]
        except KeyError:
            raise LookupError(f"no {kind.__name__} was given to the container") from None
        assert isinstance(found, kind)
        return found

    @asynccontextmanager
    async def unit_of_work(self, *, write: bool) -> AsyncIterator[UnitOfWork]:
        """One transaction: committed when the block ends normally, rolled back on any exception; work queued
        with `after_commit` runs once the commit succeeded."""
        uow: UnitOfWork | None = None
        kept: DomainError | None = None
        try:
            async with self.db.unit_of_work(write=write) as session:
                uow = UnitOfWork(session, self, write=write)
                try:
                    yield uow
                except DomainError as exc:
                    if not exc.keeps_writes:
                        raise
                    kept = exc
        except DatabaseBusy:
            if uow is not None:
                uow._discard()
            raise busy() from None
        except BaseException:
            if uow is not None:
                uow._discard()
            raise
        await uow._run_after_commit()
        if kept is not None:
            raise kept

    async def run(self, work: Callable[[UnitOfWork], Awaitable[R]], *, write: bool) -> R:
        """`work` in one unit of work; when a reading one raises WriteNeeded, all of `work` once more in a writing
        one (the first attempt rolled back, and did nothing visible before it raised)."""
        if not write:
            try:
                async with self.unit_of_work(write=False) as uow:
                    return await work(uow)
            except WriteNeeded:
                pass
        async with self.unit_of_work(write=True) as uow:
            return await work(uow)

    async def read_compute_write(
        self,
        read: Callable[[UnitOfWork], Awaitable[S]],
        compute: Callable[[S], Awaitable[C]],
        write: Callable[[UnitOfWork, C], Awaitable[R]],
    ) -> R:
        """The one pattern for work that must run outside any transaction (argon2).

        `read` runs in a read-only unit of work; `compute` runs with no transaction open; `write` runs in a write
        unit of work and checks again whatever may have changed meanwhile.
        """
        async with self.unit_of_work(write=False) as uow:
            state = await read(uow)
        computed = await compute(state)
        async with self.unit_of_work(write=True) as uow:
            return await write(uow, computed)

    async def in_batches(self, step: Callable[[UnitOfWork], Awaitable[int]], batch: int) -> int:
        """Repeat `step` (which changes at most `batch` rows) in a write unit of work of its own each time, until a
        step comes back short; so a large clean-up never holds the write lock for long. Returns the total."""
        total = 0
        while True:
            async with self.unit_of_work(write=True) as uow:
                changed = await step(uow)
            total += changed
            if changed < batch:
                return total

    # --- the access guard's reads on a cache miss ---------------------------------------------------------------

    async def _load_user(self, user_id: int) -> UserDTO | None:
        # The guard is a cache in front of the database; a miss reads through a read-only unit of work before the
        # request's own unit of work opens.
        async with self.unit_of_work(write=False) as uow:
            row = await UserRepository(uow.session).get(user_id)
            return UserDTO.from_model(row) if row is not None else None

    async def _load_status(self, jti: str, session_id: str | None, user_id: int) -> tuple[bool, bool, Any]:
        async with self.unit_of_work(write=False) as uow:
            repo = AuthRepository(uow.session)
            denied = await repo.is_denied(jti)
            session = await repo.get_session(session_id) if session_id else None
            user = await UserRepository(uow.session).get(user_id)
            state = UserState(user.token_version, user.is_active, user.revision) if user is not None else None
        return denied, session is not None and session.revoked_at is not None, state

    async def close(self) -> None:
        self.passwords.close()
