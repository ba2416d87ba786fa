"""The access log of the real app: a request path a client decoded into CR/LF stays inside its own line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpClient

from core.clock import ManualClock
from core.logging import JsonFormatter, TextFormatter
from storage.kv import MemoryStore
from tests.helpers.app import Client, make_container
from webserver.app import create_app
from webserver.keys import WebConfig

FORGED = "2026-12-02 00:00:00,000 CRITICAL unibot: FORGED_LINE"


@pytest.fixture
async def app_client(tmp_path: Path, aiohttp_client: AiohttpClient) -> AsyncIterator[Client]:
    clock = ManualClock()
    container = await make_container(tmp_path, MemoryStore(), clock)
    app = create_app(
        container=container, config=WebConfig(version="9.9.9", mode="local", max_body_bytes=64 * 1024)
    )
    yield await aiohttp_client(app)
    await container.close()
    await container.db.dispose()


@pytest.fixture
def captured() -> Iterator[tuple[io.StringIO, io.StringIO]]:
    """The access logger writing through the project's two formatters into two buffers."""
    logger = logging.getLogger("unibot.http")
    previous_level = logger.level
    text, as_json = io.StringIO(), io.StringIO()
    handlers = [logging.StreamHandler(text), logging.StreamHandler(as_json)]
    handlers[0].setFormatter(TextFormatter())
    handlers[1].setFormatter(JsonFormatter())
    for handler in handlers:
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield text, as_json
    for handler in handlers:
        logger.removeHandler(handler)
    logger.setLevel(previous_level)


async def test_forged_request_path_stays_in_one_log_line(
    app_client: Client, captured: tuple[io.StringIO, io.StringIO]
) -> None:
    quoted = FORGED.replace(" ", "%20").replace(",", "%2C").replace(":", "%3A")
    response = await app_client.get(f"/api/v1/auth/sessions%0d%0a{quoted}")
    text, as_json = captured
    lines = text.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert not any(line.startswith(FORGED) for line in lines)
    assert f"GET /api/v1/auth/sessions\\r\\n{FORGED} {response.status} " in lines[0]
    records = [json.loads(line) for line in as_json.getvalue().splitlines()]
    assert len(records) == 1
    assert records[0]["path"] == f"/api/v1/auth/sessions\r\n{FORGED}"
    assert records[0]["status"] == response.status
