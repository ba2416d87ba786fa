from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from pytest_aiohttp import AiohttpClient

from core.clock import ManualClock
from core.services import ServiceFactory
from storage.kv import KeyValueStore
from tests.helpers.app import Client, make_services, test_settings
from webserver.app import create_app
from webserver.keys import WebConfig

MakeClient = Callable[..., Awaitable[Client]]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def make_client(
    tmp_path: Path, kv: KeyValueStore, clock: ManualClock, aiohttp_client: AiohttpClient
) -> AsyncIterator[MakeClient]:
    """A real server on 127.0.0.1 over real services; settings sections may be overridden per test."""
    built: list[ServiceFactory] = []

    async def make(*, store: KeyValueStore | None = None, **sections: dict[str, Any]) -> Client:
        settings = test_settings(tmp_path, **sections)
        services = await make_services(tmp_path, store or kv, clock, settings)
        await services.auth.warm_denylist(force=True)
        built.append(services)
        app = create_app(
            services=services,
            clock=clock,
            config=WebConfig(
                version="9.9.9",
                mode="local",
                max_body_bytes=settings.web.max_body_bytes,
                trusted_proxies=settings.web.trusted_proxies,
            ),
        )
        return await aiohttp_client(app)

    yield make
    for services in built:
        await services.close()
        await services.db.dispose()


@pytest.fixture
async def services(tmp_path: Path, kv: KeyValueStore, clock: ManualClock) -> AsyncIterator[ServiceFactory]:
    factory = await make_services(tmp_path, kv, clock)
    yield factory
    await factory.close()
    await factory.db.dispose()


@pytest.fixture
async def client(make_client: MakeClient) -> Client:
    return await make_client(ratelimit={"auth_limit": 1000, "general_limit": 1000, "user_limit": 1000})
