from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from storage.kv import KeyValueStore, MemoryStore, RedisStore
from tests.helpers.catalogs import LOCALES, compile_catalogs
from tests.helpers.redis_server import RedisServer


@pytest.fixture(scope="session", autouse=True)
def _catalogs() -> None:
    compile_catalogs()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own, for tests that stop and restart it."""
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["memory", "redis"])
def store_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture
async def kv(store_kind: str, request: pytest.FixtureRequest) -> AsyncIterator[KeyValueStore]:
    store: KeyValueStore
    if store_kind == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        # A fresh prefix per test keeps tests independent on the shared server.
        store = RedisStore.from_url(server.url, prefix=f"test:{uuid.uuid4().hex}:")
    else:
        store = MemoryStore()
    yield store
    await store.close()


@pytest.fixture
def locales_path() -> Path:
    return LOCALES
