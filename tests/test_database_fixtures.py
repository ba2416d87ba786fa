"""The test databases themselves: each test's own, at head, on a server that is fast, loopback-only and thrown away."""

from __future__ import annotations

import os
import pwd
import socket
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from storage.db import Database, DatabaseConfig
from storage.migrate import current_revision, head_revision
from storage.models import User
from tests.helpers import postgres
from tests.helpers.databases import PostgresTemplate, shared_sqlite_template
from tests.helpers.postgres import PostgresServer, PostgresUnavailable


async def _count_users(url: str) -> int:
    database = Database(DatabaseConfig(url=url))
    try:
        async with database.unit_of_work(write=False) as session:
            return (await session.execute(select(func.count()).select_from(User))).scalar_one()
    finally:
        await database.dispose()


async def test_each_database_is_at_head_and_its_own(
    database_url: str, db_backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    assert database_url.startswith({"sqlite": "sqlite+aiosqlite://", "postgresql": "postgresql+asyncpg://"}[db_backend])
    database = Database(DatabaseConfig(url=database_url))
    try:
        assert await current_revision(database.read_engine) == head_revision()
        async with database.unit_of_work() as session:
            session.add(User(telegram_id=5))
    finally:
        await database.dispose()
    assert await _count_users(database_url) == 1
    # A second database from the same template does not see the first one's row.
    if db_backend == "sqlite":
        other = await shared_sqlite_template().fresh(tmp_path / "other.db")
    else:
        template: PostgresTemplate = request.getfixturevalue("postgres_template")
        other = await template.fresh()
    assert other != database_url
    assert await _count_users(other) == 0
    if db_backend == "postgresql":
        await template.drop(other)


async def test_sqlite_copy_kept_when_asked_twice(tmp_path: Path) -> None:
    # Callers that build services twice in one test must find the first one's data.
    url = await shared_sqlite_template().fresh(tmp_path / "test.db")
    database = Database(DatabaseConfig(url=url))
    try:
        async with database.unit_of_work() as session:
            session.add(User(telegram_id=6))
    finally:
        await database.dispose()
    assert await shared_sqlite_template().fresh(tmp_path / "test.db") == url
    assert await _count_users(url) == 1


@pytest.mark.sqlite_only
def test_sqlite_only_gets_no_postgresql_variant(db_backend: str, request: pytest.FixtureRequest) -> None:
    name = request.node.originalname
    assert [item.name for item in request.session.items if getattr(item, "originalname", "") == name] == [
        f"{name}[sqlite]"
    ]
    assert db_backend == "sqlite"


async def test_dropped_database_is_gone(postgres_template: PostgresTemplate) -> None:
    url = await postgres_template.fresh()
    name = url.rsplit("/", 1)[1]
    await postgres_template.drop(url)
    admin = Database(DatabaseConfig(url=postgres_template.url("postgres")))
    try:
        async with admin.read_engine.connect() as conn:
            found = (await conn.execute(text("SELECT datname FROM pg_database WHERE datname = :n"), {"n": name})).all()
    finally:
        await admin.dispose()
    assert found == []


@pytest.mark.skipif(bool(os.environ.get("UNIBOT_TEST_POSTGRES")), reason="the session uses a server it did not start")
async def test_server_is_fast_and_loopback_only(postgres_template: PostgresTemplate) -> None:
    database = Database(DatabaseConfig(url=postgres_template.url("postgres")))
    try:
        async with database.read_engine.connect() as conn:
            settings = {
                name: (await conn.execute(text(f"SHOW {name}"))).scalar_one()
                for name in ("fsync", "synchronous_commit", "full_page_writes", "listen_addresses")
            }
            rules = (await conn.execute(text("SELECT type, address, auth_method FROM pg_hba_file_rules"))).all()
            data_directory = (await conn.execute(text("SHOW data_directory"))).scalar_one()
    finally:
        await database.dispose()
    assert settings == {
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "listen_addresses": "127.0.0.1",
    }
    assert [tuple(rule) for rule in rules] == [("host", "127.0.0.1", "trust")]
    # As root the server runs as Debian's postgres user, which must own its data.
    owner = pwd.getpwuid(os.stat(data_directory).st_uid).pw_name
    assert owner == ("postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name)


def test_stopped_server_leaves_nothing() -> None:
    server = PostgresServer()
    server.start()
    folder = server.folder
    assert folder is not None
    with socket.create_connection(("127.0.0.1", server.port), timeout=2):
        pass
    server.stop()
    assert not folder.exists()
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", server.port), timeout=2):
        pass


def test_missing_postgres_names_the_install_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(postgres, "DEBIAN_VERSIONS", tmp_path)
    with pytest.raises(PostgresUnavailable, match=r"apt-get install postgresql"):
        PostgresServer()


def test_newest_debian_version_preferred(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for version in ("9.6", "15", "13"):
        bindir = tmp_path / version / "bin"
        bindir.mkdir(parents=True)
        for program in ("initdb", "pg_ctl"):
            (bindir / program).touch()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(postgres, "DEBIAN_VERSIONS", tmp_path)
    assert postgres.find_bindir() == tmp_path / "15" / "bin"
