"""Builds the real domain and web app on a real SQLite file, for tests that do not need the bot."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient

from core.clock import Clock
from core.services import DomainConfig, ServiceFactory
from storage.db import Database, DatabaseConfig
from storage.kv import KeyValueStore
from storage.migrate import upgrade


async def make_services(tmp_path: Path, kv: KeyValueStore, clock: Clock) -> ServiceFactory:
    db = Database(DatabaseConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"))
    await upgrade(db.write_engine)
    return ServiceFactory(db=db, kv=kv, clock=clock, config=DomainConfig(languages=("en", "ru")))


Client = TestClient[web.Request, web.Application]
