from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from core.clock import ManualClock
from core.container import Container
from storage.db import Database, DatabaseConfig
from storage.kv import KeyValueStore, MemoryStore, RedisStore
from tests.helpers.app import make_container
from tests.helpers.catalogs import LOCALES, compile_catalogs
from tests.helpers.databases import PostgresTemplate, shared_sqlite_template
from tests.helpers.postgres import PostgresServer, PostgresUnavailable
from tests.helpers.redis_server import RedisServer

DB_BACKENDS = ["sqlite", "postgresql"]


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Before the fixture's own params are applied, which a direct parametrization then overrides:
    # SQLite-only tests get no postgresql variant.
    if "db_backend" in metafunc.fixturenames and metafunc.definition.get_closest_marker("sqlite_only"):
        metafunc.parametrize("db_backend", ["sqlite"])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that takes both a key-value store and a database runs as the two deployments the product has:
    SQLite with the in-process store (one machine) and PostgreSQL with Redis (replicas). The crossed pairs add
    time and no case of their own."""
    pairs = {("memory", "sqlite"), ("redis", "postgresql")}
    kept, dropped = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        store, backend = params.get("store_kind"), params.get("db_backend")
        crossed = store is not None and backend is not None and (store, backend) not in pairs
        # A SQLite-only test keeps its Redis variant: it has no other way to meet Redis.
        if crossed and not (backend == "sqlite" and item.get_closest_marker("sqlite_only")):
            dropped.append(item)
            continue
        kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_runtest_setup(item: pytest.Item) -> None:
    # The old helper (tests.helpers.app.database_url) puts every database on the server UNIBOT_TEST_POSTGRES names.
    legacy = "db_backend" not in getattr(item, "fixturenames", ())
    if os.environ.get("UNIBOT_TEST_POSTGRES") and item.get_closest_marker("sqlite_only") and legacy:
        pytest.skip("SQLite only, and UNIBOT_TEST_POSTGRES puts this test's database on PostgreSQL")


@pytest.fixture(scope="session", autouse=True)
def _catalogs() -> None:
    compile_catalogs()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[PostgresTemplate]:
    """A throwaway PostgreSQL server for the session, or the server UNIBOT_TEST_POSTGRES names
    (postgresql+asyncpg://user@host:port, a superuser; nothing of the session is left on it)."""
    external = os.environ.get("UNIBOT_TEST_POSTGRES")
    if external:
        template = PostgresTemplate(external)
        yield template
        template.close()
        return
    try:
        server = PostgresServer()
    except PostgresUnavailable as error:
        missing = str(error)
    else:
        missing = ""
    # Failed outside the handler, so that the report is the one line naming the install command.
    if missing:
        pytest.fail(missing, pytrace=False)
    try:
        server.start()
        yield PostgresTemplate(server.url)
    finally:
        server.stop()


@pytest.fixture(params=DB_BACKENDS)
def db_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


@pytest.fixture
async def database_url(db_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A database of the test's own at the migrations' head, on each backend (a test marked sqlite_only: SQLite)."""
    if db_backend == "sqlite":
        yield await shared_sqlite_template().fresh(tmp_path / "test.db")
        return
    template: PostgresTemplate = request.getfixturevalue("postgres_template")
    url = await template.fresh()
    yield url
    await template.drop(url)


@pytest.fixture
async def blank_database_url(db_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """An empty database of the test's own, for tests of the migrations themselves."""
    if db_backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'blank.db'}"
        return
    template: PostgresTemplate = request.getfixturevalue("postgres_template")
    url = await template.blank()
    yield url
    await template.drop(url)


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
async def db(database_url: str) -> AsyncIterator[Database]:
    """The storage layer alone on a migrated database of the test's own, on each backend."""
    database = Database(DatabaseConfig(url=database_url))
    yield database
    await database.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def container(
    tmp_path: Path, kv: KeyValueStore, clock: ManualClock, database_url: str
) -> AsyncIterator[Container]:
    """The domain's container on a database of the test's own: SQLite with the in-process store, PostgreSQL with
    Redis (see pytest_collection_modifyitems)."""
    built = await make_container(tmp_path, kv, clock, url=database_url)
    yield built
    await built.close()
    await built.db.dispose()


@pytest.fixture
def locales_path() -> Path:
    return LOCALES
