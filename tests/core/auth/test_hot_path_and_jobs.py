"""The access check's promises: no database round trip per request when nothing changed, correct invalidation
when something did, and maintenance that removes only what has expired."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from core.auth import jobs, password_flows
from core.auth.service import AuthService, ClientInfo
from core.clock import ManualClock
from core.container import Container
from core.errors import Unauthorized
from core.users.service import UserService
from storage.kv import RedisStore
from storage.models import AuthSession, RevokedAccessToken
from tests.helpers.app import make_container
from tests.helpers.redis_server import RedisServer

CLIENT = ClientInfo(ip="127.0.0.1", user_agent="pytest")


@contextmanager
def count_sql(container: Container) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engines = {container.db.read_engine.sync_engine, container.db.write_engine.sync_engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)


async def signed_up(container: Container, email: str = "hot@example.org") -> tuple[int, str]:
    user, pair = await password_flows.register_email(
        container,
        email=email, password="hot path password", first_name="Hot", last_name=None, username=None, client=CLIENT
    )
    return user.id, pair.access_token


async def test_valid_token_costs_no_sql_once_warm(container: Container) -> None:
    _, token = await signed_up(container)
    await container.guard.authenticate(token)
    with count_sql(container) as statements:
        for _ in range(20):
            result = await container.guard.authenticate(token)
    assert result.user.first_name == "Hot"
    assert statements == []


async def test_change_reaches_cached_user(container: Container) -> None:
    user_id, token = await signed_up(container)
    await container.guard.authenticate(token)
    async with container.unit_of_work(write=True) as uow:
        await UserService(uow).update_profile(user_id, first_name="Changed")
    assert (await container.guard.authenticate(token)).user.first_name == "Changed"


async def test_other_replica_sees_revocation(tmp_path: Path, redis_server: RedisServer) -> None:
    """Two service factories on one database and one Redis stand for two replicas (an in-process store is
    not shared between processes, which is why replicas need Redis)."""
    kv = RedisStore.from_url(redis_server.url, prefix="replicas:")
    clock = ManualClock()
    first = await make_container(tmp_path, kv, clock)
    second = await make_container(tmp_path, kv, clock)
    try:
        user_id, token = await signed_up(first)
        await second.guard.authenticate(token)
        async with first.unit_of_work(write=True) as uow:
            await AuthService(uow).revoke_all(user_id, reason="test")
        with pytest.raises(Unauthorized):
            await second.guard.authenticate(token)
    finally:
        for factory in (first, second):
            await factory.close()
            await factory.db.dispose()
        await kv.close()


async def test_purge_removes_only_expired(container: Container) -> None:
    clock = container.clock
    assert isinstance(clock, ManualClock)
    user_id, token = await signed_up(container)
    claims = await container.guard.authenticate(token)
    async with container.unit_of_work(write=True) as uow:
        await AuthService(uow).logout(
            user_id=user_id,
            session_id=claims.principal.session_id,
            jti=claims.principal.jti,
            expires_at=claims.principal.expires_at,
        )
    for index in range(3):
        await signed_up(container, f"keep{index}@example.org")
    assert await jobs.purge_expired_sessions(container) == 0  # the revoked session is still needed for the denylist
    clock.advance(16 * 60)
    removed = await jobs.purge_expired_sessions(container)
    assert removed == 2  # the revoked session and the expired denylist row
    async with container.unit_of_work(write=False) as uow:
        sessions = (await uow.session.execute(select(func.count()).select_from(AuthSession))).scalar_one()
        denied = (await uow.session.execute(select(func.count()).select_from(RevokedAccessToken))).scalar_one()
    assert (sessions, denied) == (3, 0)
    clock.advance(31 * 24 * 3600)
    assert await jobs.purge_expired_sessions(container) == 3


async def test_purge_works_in_batches(container: Container, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs, "PURGE_BATCH", 2)
    for index in range(5):
        await signed_up(container, f"batch{index}@example.org")
    clock = container.clock
    assert isinstance(clock, ManualClock)
    clock.advance(31 * 24 * 3600)
    assert await jobs.purge_expired_sessions(container) == 5


async def test_warm_job_restores_a_flushed_store(container: Container) -> None:
    user_id, token = await signed_up(container)
    claims = await container.guard.authenticate(token)
    await jobs.warm_denylist(container, force=True)
    async with container.unit_of_work(write=True) as uow:
        await AuthService(uow).logout(
            user_id=user_id,
            session_id=claims.principal.session_id,
            jti=claims.principal.jti,
            expires_at=claims.principal.expires_at,
        )
    # The store loses everything (a Redis restart without persistence).
    await container.kv.delete(
        "auth:denylist-warm",
        f"auth:deny:{claims.principal.jti}",
        f"auth:session-revoked:{claims.principal.session_id}",
    )
    assert await jobs.warm_denylist(container) == 2
    assert await jobs.warm_denylist(container) == 0  # marker set again: nothing to do
    with pytest.raises(Unauthorized):
        await container.guard.authenticate(token)
