"""The domain's entry point for both faces: one unit of work holds one transaction and the services on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock
from core.users.service import UserService
from storage.db import Database
from storage.kv import KeyValueStore


@dataclass(frozen=True, slots=True)
class DomainConfig:
    languages: tuple[str, ...]


class UnitOfWork:
    """Services sharing one session. Built per update or request; never kept after its block ends."""

    def __init__(self, session: AsyncSession, factory: ServiceFactory) -> None:
        self.session = session
        self.users = UserService(session, factory.clock, languages=factory.config.languages)


class ServiceFactory:
    """Long-lived: holds the process-wide dependencies that services need."""

    def __init__(self, *, db: Database, kv: KeyValueStore, clock: Clock, config: DomainConfig) -> None:
        self.db = db
        self.kv = kv
        self.clock = clock
        self.config = config

    @asynccontextmanager
    async def unit_of_work(self, *, write: bool = True) -> AsyncIterator[UnitOfWork]:
        async with self.db.unit_of_work(write=write) as session:
            yield UnitOfWork(session, self)
