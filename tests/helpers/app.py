"""Builds the real domain and web app on a real SQLite file, for tests that do not need the bot."""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from core.clock import Clock
from core.container import Container
from core.settings import Settings, deep_merge, load_settings
from run import build_container, web_config
from storage.db import Database, DatabaseConfig
from storage.kv import KeyValueStore, RedisStore
from storage.migrate import upgrade
from storage.ratelimit import create_limits_storage
from tests.helpers.databases import shared_sqlite_template
from webserver.app import create_app

# The cheapest argon2id the settings accept (OWASP's floor), so that tests with many sign-ins stay fast.
FAST_ARGON2 = {"argon2_memory_kib": 19456, "argon2_time_cost": 2, "argon2_parallelism": 1}


def test_settings(data_dir: Path, **sections: dict[str, Any]) -> Settings:
    base: dict[str, Any] = {
        "app": {"mode": "local", "data_dir": str(data_dir)},
        "auth": dict(FAST_ARGON2),
        "logging": {"level": "WARNING"},
    }
    return load_settings(None, env_file=None, overrides=deep_merge(base, sections))


async def database_url(tmp_path: Path) -> str:
    """SQLite in the test's folder; or, when UNIBOT_TEST_POSTGRES names a server (postgresql+asyncpg://user@host:port),
    a database of the test's own on it, so the same tests prove the PostgreSQL path."""
    server = os.environ.get("UNIBOT_TEST_POSTGRES")
    if not server:
        # A copy of the session's migrated template: the caller's own upgrade then finds nothing to do.
        return await shared_sqlite_template().fresh(tmp_path / "test.db")
    name = "t_" + hashlib.sha256(str(tmp_path).encode()).hexdigest()[:16]
    admin = create_async_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            exists = (await conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})).first()
            if exists is None:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()
    return f"{server}/{name}"


async def make_container(
    tmp_path: Path, kv: KeyValueStore, clock: Clock, settings: Settings | None = None, *, url: str | None = None
) -> Container:
    """The domain's container, built by the composition root's own function on a real, migrated database: the
    given one (the `database_url` fixture, on either backend) or an SQLite file in the test's folder."""
    settings = settings or test_settings(tmp_path)
    busy = settings.db.busy_timeout_ms
    if url is None:
        url = await database_url(tmp_path)
        db = Database(DatabaseConfig(url=url, busy_timeout_ms=busy))
        await upgrade(db.write_engine)
    else:
        db = Database(DatabaseConfig(url=url, busy_timeout_ms=busy))
    # As in run.py: the limiter's counters share the key-value store's Redis pool.
    pool = kv.client.connection_pool if isinstance(kv, RedisStore) else None
    storage = create_limits_storage(None, key_prefix=kv.prefix if isinstance(kv, RedisStore) else "", pool=pool)
    return build_container(settings, db=db, kv=kv, clock=clock, limits_storage=storage)


def create_test_app(container: Container, settings: Settings, **config: object) -> web.Application:
    """The web app as run.py builds it, for the given settings (config fields may be replaced)."""
    return create_app(container=container, config=replace(web_config(settings), **config))  # type: ignore[arg-type]


Client = TestClient[web.Request, web.Application]
