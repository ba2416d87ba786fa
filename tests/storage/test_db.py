from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from storage.db import Database, DatabaseBusy, DatabaseConfig
from storage.migrate import current_revision, head_revision, upgrade
from storage.models import Base, User
from storage.models.base import include_object_on
from storage.repositories.users import UserRepository


async def test_file_and_directory_created(tmp_path: Path) -> None:
    database = Database(DatabaseConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'sub' / 'app.db'}"))
    try:
        await upgrade(database.write_engine)
    finally:
        await database.dispose()
    assert (tmp_path / "sub" / "app.db").exists()


@pytest.mark.sqlite_only
async def test_pragmas(db: Database) -> None:
    async with db.read_engine.connect() as conn:
        assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
        assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar() == 5000


async def test_migrations_reach_head_and_match_models(db: Database) -> None:
    assert await current_revision(db.read_engine) == head_revision()
    await upgrade(db.write_engine)  # a second run changes nothing
    async with db.read_engine.connect() as conn:
        tables = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    assert set(Base.metadata.tables) <= tables


async def test_models_match_migrations(db: Database) -> None:
    """Autogenerate finds nothing to do: the migrations describe exactly the models."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy.engine import Connection

    def diff(connection: Connection) -> list[object]:
        # As storage/migrations/env.py: the model's PostgreSQL-only indexes are no drift on SQLite.
        include = include_object_on(connection.dialect.name)
        context = MigrationContext.configure(connection, opts={"compare_type": True, "include_object": include})
        return list(compare_metadata(context, Base.metadata))

    async with db.read_engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_unit_of_work_commits_and_rolls_back(db: Database) -> None:
    async with db.unit_of_work() as session:
        await UserRepository(session).add(User(telegram_id=1, first_name="kept"))
    with pytest.raises(RuntimeError):
        async with db.unit_of_work() as session:
            await UserRepository(session).add(User(telegram_id=2, first_name="lost"))
            raise RuntimeError("handler failed")
    async with db.unit_of_work(write=False) as session:
        names = (await session.execute(select(User.first_name))).scalars().all()
    assert names == ["kept"]


async def test_big_telegram_ids_round_trip(db: Database) -> None:
    big = 2**53 - 1
    async with db.unit_of_work() as session:
        await UserRepository(session).add(User(telegram_id=big))
    async with db.unit_of_work(write=False) as session:
        user = await UserRepository(session).by_telegram_id(big)
    assert user is not None
    assert user.telegram_id == big
    assert user.created_at.tzinfo is not None


async def test_unique_telegram_id(db: Database) -> None:
    async with db.unit_of_work() as session:
        await UserRepository(session).add(User(telegram_id=7))
    with pytest.raises(IntegrityError):
        async with db.unit_of_work() as session:
            await UserRepository(session).add(User(telegram_id=7))


# PostgreSQL's READ COMMITTED loses these updates (4 of 40 kept when tried): there, code needs row locks.
@pytest.mark.sqlite_only
async def test_concurrent_read_modify_write_never_locks(db: Database) -> None:
    """Writers that read first and write later would deadlock on a deferred BEGIN; BEGIN IMMEDIATE queues them."""
    async with db.unit_of_work() as session:
        user = await UserRepository(session).add(User(telegram_id=99, first_name="0"))
        user_id = user.id

    async def bump() -> None:
        async with db.unit_of_work() as session:
            row = await session.get(User, user_id)
            assert row is not None
            await asyncio.sleep(0.001)
            row.first_name = str(int(row.first_name or "0") + 1)

    await asyncio.gather(*(bump() for _ in range(40)))
    async with db.unit_of_work(write=False) as session:
        row = await session.get(User, user_id)
    assert row is not None
    assert row.first_name == "40"


@pytest.mark.sqlite_only
async def test_ping_detects_missing_or_corrupt_file(tmp_path: Path, db: Database) -> None:
    path = tmp_path / "test.db"
    await db.ping()
    original = path.read_bytes()[:100]
    with path.open("r+b") as handle:
        handle.write(b"\0" * 100)
    with pytest.raises(OSError, match="not an SQLite database"):
        await db.ping()
    with path.open("r+b") as handle:
        handle.write(original)
    await db.ping()
    path.rename(tmp_path / "moved.db")
    with pytest.raises(FileNotFoundError):
        await db.ping()


async def test_downgrade_and_upgrade_again(blank_database_url: str) -> None:
    """Every migration can be undone and redone, with data kept where the schema allows."""
    from storage.migrate import alembic_config

    database = Database(DatabaseConfig(url=blank_database_url))
    try:
        await upgrade(database.write_engine, "0001")
        async with database.write_engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO users (telegram_id, username, created_at, updated_at) "
                    "VALUES (77, 'tg_name', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
                )
            )
        await upgrade(database.write_engine)
        async with database.read_engine.connect() as conn:
            row = (await conn.execute(text("SELECT telegram_username, referral_code FROM users"))).one()
            identities = (await conn.execute(text("SELECT provider, subject FROM identities"))).all()
        assert row[0] == "tg_name"
        assert row[1]
        assert [tuple(identity) for identity in identities] == [("telegram", "77")]

        from alembic import command
        from sqlalchemy.engine import Connection

        def downgrade(connection: Connection) -> None:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.downgrade(config, "0001")

        async with database.write_engine.begin() as conn:
            await conn.run_sync(downgrade)
        async with database.read_engine.connect() as conn:
            assert (await conn.execute(text("SELECT username FROM users"))).scalar_one() == "tg_name"
        await upgrade(database.write_engine)
        assert await current_revision(database.read_engine) == head_revision()
    finally:
        await database.dispose()


@pytest.mark.sqlite_only
async def test_writers_of_one_process_take_turns_in_order(tmp_path: Path) -> None:
    database = Database(DatabaseConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'turns.db'}", busy_timeout_ms=2000))
    order: list[int] = []

    async def writer(n: int) -> None:
        async with database.unit_of_work(write=True) as session:
            await session.execute(text("SELECT 1"))  # the transaction (BEGIN IMMEDIATE) starts here
            order.append(n)
            # The first holds the lock long enough for every other one to be waiting when it lets go.
            await asyncio.sleep(0.3 if n == 0 else 0.005)

    try:
        await upgrade(database.write_engine)
        tasks = []
        for n in range(20):
            tasks.append(asyncio.create_task(writer(n)))
            await asyncio.sleep(0.005)  # each one asks before the next
        await asyncio.gather(*tasks)
    finally:
        await database.dispose()
    # Queued in this process, they start in the order they asked (SQLite's busy handler would let any of them in).
    assert order == list(range(20))


@pytest.mark.sqlite_only
async def test_a_writer_kept_out_past_the_timeout_is_told_busy(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    database = Database(DatabaseConfig(url=f"sqlite+aiosqlite:///{path}", busy_timeout_ms=200))
    try:
        await upgrade(database.write_engine)
        # Another process holds the write lock.
        locker = sqlite3.connect(path, timeout=0)
        locker.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(DatabaseBusy):
                async with database.unit_of_work(write=True) as session:
                    await session.execute(text("SELECT 1"))
            # This process's next writer queued behind the first and is told the same; nothing waits forever.
            first = asyncio.create_task(_write_once(database))
            second = asyncio.create_task(_write_once(database))
            results = await asyncio.gather(first, second, return_exceptions=True)
            assert all(isinstance(result, DatabaseBusy) for result in results)
        finally:
            locker.rollback()
            locker.close()
        await _write_once(database)
    finally:
        await database.dispose()


async def _write_once(database: Database) -> None:
    async with database.unit_of_work(write=True) as session:
        await session.execute(text("SELECT 1"))
