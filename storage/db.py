"""Engine and session factories.

SQLite gets WAL, a busy timeout, foreign keys, and `BEGIN IMMEDIATE` for write transactions, so that two writers
queue on the lock instead of one failing with "database is locked" when it upgrades a read lock mid-transaction.
Reads use a separate engine with deferred transactions so they never wait for the write lock. Within one process,
SQLite's writers also queue on an asyncio lock, in order: SQLite's busy handler makes a waiting writer poll with
growing sleeps, so under a burst of writes some waited past the busy timeout while the lock was free most of the
time. A writer that still cannot start in time raises `DatabaseBusy` (the faces answer "retry shortly").
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    url: str
    echo: bool = False
    busy_timeout_ms: int = 5000
    pool_size: int = 5


class DatabaseBusy(Exception):
    """SQLite's one writer stayed busy for longer than the busy timeout; the work may be retried shortly."""


def _is_locked(exc: OperationalError) -> bool:
    return "database is locked" in str(exc.orig)


class Database:
    """Owns the engines; one instance per process, created by the composition root and disposed at shutdown."""

    def __init__(self, config: DatabaseConfig) -> None:
        self.config = config
        self.url = make_url(config.url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self._sqlite_file: Path | None = None
        # SQLite only: this process's writers, in turn (PostgreSQL locks rows, not the database).
        self._writer: asyncio.Lock | None = None
        if self.is_sqlite:
            self._writer = asyncio.Lock()
            self._sqlite_file = _ensure_sqlite_dir(config.url)
            self.write_engine = _sqlite_engine(config, immediate=True)
            self.read_engine = _sqlite_engine(config, immediate=False)
        else:
            self.write_engine = create_async_engine(
                config.url, echo=config.echo, pool_size=config.pool_size, pool_pre_ping=True
            )
            self.read_engine = self.write_engine
        self._write_sessions = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self._read_sessions = async_sessionmaker(self.read_engine, expire_on_commit=False)

    @asynccontextmanager
    async def unit_of_work(self, *, write: bool = True) -> AsyncIterator[AsyncSession]:
        """One transaction: committed when the block ends normally, rolled back on any exception."""
        if not write or self._writer is None:
            factory = self._read_sessions if not write else self._write_sessions
            async with factory() as session, session.begin():
                yield session
            return
        try:
            async with asyncio.timeout(self.config.busy_timeout_ms / 1000):
                await self._writer.acquire()
        except TimeoutError:
            raise DatabaseBusy from None
        try:
            async with self._write_sessions() as session, session.begin():
                yield session
        except OperationalError as exc:
            # Another process held the database past the busy timeout.
            if _is_locked(exc):
                raise DatabaseBusy from exc
            raise
        finally:
            self._writer.release()

    async def ping(self) -> None:
        """Raise when the database cannot serve queries."""
        async with self.read_engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        if self._sqlite_file is not None:
            # Pooled connections keep a deleted or overwritten file open and go on answering from cache;
            # only a look at the file itself shows that the next connection would fail.
            await asyncio.to_thread(_check_sqlite_file, self._sqlite_file)

    async def dispose(self) -> None:
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()


def _ensure_sqlite_dir(url: str) -> Path | None:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    path = Path(database).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


_SQLITE_MAGIC = b"SQLite format 3\x00"


def _check_sqlite_file(path: Path) -> None:
    with path.open("rb") as handle:
        header = handle.read(len(_SQLITE_MAGIC))
    # A brand-new database is an empty file until its first write.
    if header and header != _SQLITE_MAGIC:
        raise OSError(f"{path.name} is not an SQLite database")


def _sqlite_engine(config: DatabaseConfig, *, immediate: bool) -> AsyncEngine:
    engine = create_async_engine(
        config.url,
        echo=config.echo,
        connect_args={"timeout": config.busy_timeout_ms / 1000},
    )
    busy_timeout = int(config.busy_timeout_ms)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling would emit a deferred BEGIN; take it over.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    begin_statement = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin_statement)

    return engine
