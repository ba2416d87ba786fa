"""The access check's promises: no database round trip per request when nothing changed, correct invalidation
when something did, and maintenance that removes only what has expired."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from core.auth.service import ClientInfo
from core.clock import ManualClock
from core.errors import Unauthorized
from core.services import ServiceFactory
from storage.kv import KeyValueStore, RedisStore
from storage.models import AuthSession, RevokedAccessToken
from tests.helpers.app import make_services
from tests.helpers.redis_server import RedisServer

CLIENT = ClientInfo(ip="127.0.0.1", user_agent="pytest")


@pytest.fixture
async def services(tmp_path: Path, kv: KeyValueStore) -> AsyncIterator[ServiceFactory]:
    factory = await make_services(tmp_path, kv, ManualClock())
    yield factory
    await factory.close()
    await factory.db.dispose()


@contextmanager
def count_sql(services: ServiceFactory) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engines = {services.db.read_engine.sync_engine, services.db.write_engine.sync_engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)


async def signed_up(services: ServiceFactory, email: str = "hot@example.org") -> tuple[int, str]:
    user, pair = await services.auth.register_email(
        email=email, password="hot path password", first_name="Hot", last_name=None, username=None, client=CLIENT
    )
    return user.id, pair.access_token


async def test_valid_token_costs_no_sql_once_warm(services: ServiceFactory) -> None:
    _, token = await signed_up(services)
    await services.guard.authenticate(token)
    with count_sql(services) as statements:
        for _ in range(20):
            result = await services.guard.authenticate(token)
    assert result.user.first_name == "Hot"
    assert statements == []


async def test_change_reaches_cached_user(services: ServiceFactory) -> None:
    user_id, token = await signed_up(services)
    await services.guard.authenticate(token)
    async with services.unit_of_work() as uow:
        await uow.users.update_profile(user_id, first_name="Changed")
    assert (await services.guard.authenticate(token)).user.first_name == "Changed"


async def test_other_replica_sees_revocation(tmp_path: Path, redis_server: RedisServer) -> None:
    """Two service factories on one database and one Redis stand for two replicas (an in-process store is
    not shared between processes, which is why replicas need Redis)."""
    kv = RedisStore.from_url(redis_server.url, prefix="replicas:")
    clock = ManualClock()
    first = await make_services(tmp_path, kv, clock)
    second = await make_services(tmp_path, kv, clock)
    try:
        user_id, token = await signed_up(first)
        await second.guard.authenticate(token)
        await first.auth.revoke_all(user_id, reason="test")
        with pytest.raises(Unauthorized):
            await second.guard.authenticate(token)
    finally:
        for factory in (first, second):
            await factory.close()
            await factory.db.dispose()
        await kv.close()


async def test_purge_removes_only_expired(services: ServiceFactory) -> None:
    clock = services.clock
    assert isinstance(clock, ManualClock)
    user_id, token = await signed_up(services)
    claims = await services.guard.authenticate(token)
    await services.auth.logout(
        user_id=user_id,
        session_id=claims.principal.session_id,
        jti=claims.principal.jti,
        expires_at=claims.principal.expires_at,
    )
    for index in range(3):
        await signed_up(services, f"keep{index}@example.org")
    assert await services.auth.purge_expired() == 0  # the revoked session is still needed for the denylist
    clock.advance(16 * 60)
    removed = await services.auth.purge_expired()
    assert removed == 2  # the revoked session and the expired denylist row
    async with services.unit_of_work(write=False) as uow:
        sessions = (await uow.session.execute(select(func.count()).select_from(AuthSession))).scalar_one()
        denied = (await uow.session.execute(select(func.count()).select_from(RevokedAccessToken))).scalar_one()
    assert (sessions, denied) == (3, 0)
    clock.advance(31 * 24 * 3600)
    assert await services.auth.purge_expired() == 3


async def test_purge_works_in_batches(services: ServiceFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    import core.auth.service as service_module

    monkeypatch.setattr(service_module, "PURGE_BATCH", 2)
    for index in range(5):
        await signed_up(services, f"batch{index}@example.org")
    clock = services.clock
    assert isinstance(clock, ManualClock)
    clock.advance(31 * 24 * 3600)
    assert await services.auth.purge_expired() == 5


async def test_warm_job_restores_a_flushed_store(services: ServiceFactory) -> None:
    user_id, token = await signed_up(services)
    claims = await services.guard.authenticate(token)
    await services.auth.warm_denylist(force=True)
    await services.auth.logout(
        user_id=user_id,
        session_id=claims.principal.session_id,
        jti=claims.principal.jti,
        expires_at=claims.principal.expires_at,
    )
    # The store loses everything (a Redis restart without persistence).
    await services.kv.delete(
        "auth:denylist-warm",
        f"auth:deny:{claims.principal.jti}",
        f"auth:session-revoked:{claims.principal.session_id}",
    )
    assert await services.auth.warm_denylist() == 2
    assert await services.auth.warm_denylist() == 0  # marker set again: nothing to do
    with pytest.raises(Unauthorized):
        await services.guard.authenticate(token)
