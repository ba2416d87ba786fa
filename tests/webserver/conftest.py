from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from pytest_aiohttp import AiohttpClient

from core.auth import jobs as auth_jobs
from core.clock import ManualClock
from core.container import Container
from storage.kv import KeyValueStore
from tests.helpers.app import Client, create_test_app, make_container, test_settings

MakeClient = Callable[..., Awaitable[Client]]


@pytest.fixture
async def make_client(
    tmp_path: Path, kv: KeyValueStore, clock: ManualClock, aiohttp_client: AiohttpClient, database_url: str
) -> AsyncIterator[MakeClient]:
    """A real server on 127.0.0.1 over real services; settings sections may be overridden per test."""
    built: list[Container] = []

    async def make(*, store: KeyValueStore | None = None, **sections: dict[str, Any]) -> Client:
        settings = test_settings(tmp_path, **sections)
        container = await make_container(tmp_path, store or kv, clock, settings, url=database_url)
        await auth_jobs.warm_denylist(container, force=True)
        built.append(container)
        return await aiohttp_client(create_test_app(container, settings, version="9.9.9"))

    yield make
    for container in built:
        await container.close()
        await container.db.dispose()




@pytest.fixture
async def client(make_client: MakeClient) -> Client:
    return await make_client(ratelimit={"auth_limit": 1000, "general_limit": 1000, "user_limit": 1000})
