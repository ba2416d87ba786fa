from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpClient

from core.clock import ManualClock
from core.services import ServiceFactory
from storage.kv import KeyValueStore
from tests.helpers.app import Client, make_services
from webserver.app import create_app
from webserver.keys import WebConfig


@pytest.fixture
async def services(tmp_path: Path, kv: KeyValueStore) -> AsyncIterator[ServiceFactory]:
    factory = await make_services(tmp_path, kv, ManualClock())
    yield factory
    await factory.db.dispose()


@pytest.fixture
async def client(services: ServiceFactory, aiohttp_client: AiohttpClient) -> Client:
    app = create_app(
        services=services,
        clock=services.clock,
        config=WebConfig(version="9.9.9", mode="local", max_body_bytes=64 * 1024),
    )
    return await aiohttp_client(app)
