from __future__ import annotations

import logging
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from pydantic import BaseModel, Field
from pytest_aiohttp import AiohttpClient

from core.clock import ManualClock
from core.container import Container
from core.errors import Conflict
from storage.kv import MemoryStore, RedisStore
from tests.helpers.app import Client, make_container
from tests.helpers.redis_server import RedisServer
from tests.webserver.test_auth_routes import bearer, register
from webserver.api import Api, model_response, route
from webserver.app import create_app
from webserver.keys import WebConfig


def assert_error_shape(body: dict[str, Any], code: str) -> None:
    assert set(body) >= {"detail", "error_code", "timestamp"}
    assert body["error_code"] == code
    assert isinstance(body["detail"], str)
    assert body["timestamp"].endswith("Z")


class Echo(BaseModel):
    name: str = Field(min_length=1, max_length=50)
    count: int = 1


@route("POST", "/echo", summary="echo", body=Echo, response=Echo, form=True)
async def echo(request: web.Request, body: Echo) -> web.StreamResponse:
    return model_response(body, status=201)


@route("GET", "/boom", summary="fails")
async def boom(request: web.Request) -> web.StreamResponse:
    raise RuntimeError("secret internals")


@route("GET", "/conflict", summary="domain error")
async def conflict(request: web.Request) -> web.StreamResponse:
    raise Conflict("email_taken", "Email already registered")


def _test_routes(app: web.Application) -> None:
    # The handlers declared above with the module-level `route`, collected the way the route modules are.
    api = Api.collect(sys.modules[__name__])
    assert {operation.path for operation in api.operations} == {"/echo", "/boom", "/conflict"}
    api.register(app)


@pytest.fixture
async def test_client(container: Container, aiohttp_client: AiohttpClient) -> Client:
    app = create_app(
        container=container,
        config=WebConfig(version="9.9.9", mode="local", max_body_bytes=64 * 1024),
        extra_setup=_test_routes,
    )
    return await aiohttp_client(app)


async def test_health_ok(client: Client) -> None:
    response = await client.get("/health")
    assert response.status == 200
    body = await response.json()
    assert body["status"] == "healthy"
    assert body["version"] == "9.9.9"
    assert body["mode"] == "local"
    assert body["checks"] == {"database": "ok", "kv": "ok"}


async def test_trailing_slash_reaches_same_handler(client: Client) -> None:
    plain = await client.get("/health", allow_redirects=False)
    slashed = await client.get("/health/", allow_redirects=False)
    assert plain.status == slashed.status == 200
    assert (await slashed.json())["status"] == "healthy"


async def test_unknown_route_is_json_404(client: Client) -> None:
    response = await client.get("/nope")
    assert response.status == 404
    assert response.content_type == "application/json"
    assert_error_shape(await response.json(), "NOT_FOUND")


async def test_wrong_method_is_json_405(client: Client) -> None:
    response = await client.delete("/health")
    assert response.status == 405
    assert "GET" in response.headers["Allow"]
    assert_error_shape(await response.json(), "METHOD_NOT_ALLOWED")


async def test_request_id_and_security_headers(client: Client) -> None:
    response = await client.get("/health", headers={"X-Request-ID": "abc-123.x"})
    assert response.headers["X-Request-ID"] == "abc-123.x"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    generated = await client.get("/nope", headers={"X-Request-ID": "bad id\twith spaces"})
    assert generated.headers["X-Request-ID"] != "bad id\twith spaces"
    assert len(generated.headers["X-Request-ID"]) == 32


async def test_body_validation_and_forms(test_client: Client) -> None:
    ok = await test_client.post("/echo", json={"name": "Ann", "count": 2, "is_admin": True})
    assert ok.status == 201
    assert await ok.json() == {"name": "Ann", "count": 2}
    form = await test_client.post("/echo/", data={"name": "Bob"})
    assert form.status == 201
    assert (await form.json())["name"] == "Bob"

    bad = await test_client.post("/echo", json={"name": "", "count": "many"})
    assert bad.status == 422
    body = await bad.json()
    assert_error_shape(body, "VALIDATION_ERROR")
    assert {tuple(item["loc"]) for item in body["errors"]} == {("name",), ("count",)}

    malformed = await test_client.post("/echo", data=b"{not json", headers={"Content-Type": "application/json"})
    assert malformed.status == 400
    assert_error_shape(await malformed.json(), "MALFORMED_JSON")

    not_object = await test_client.post("/echo", json=[1, 2])
    assert not_object.status == 422

    text = await test_client.post("/echo", data=b"name=x", headers={"Content-Type": "text/plain"})
    assert text.status == 415
    assert_error_shape(await text.json(), "UNSUPPORTED_MEDIA_TYPE")


async def test_oversized_body_is_json_413(test_client: Client) -> None:
    declared = await test_client.post("/echo", data=b"x" * (65 * 1024), headers={"Content-Type": "application/json"})
    assert declared.status == 413
    assert_error_shape(await declared.json(), "PAYLOAD_TOO_LARGE")

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(80):
            yield b"x" * 1024

    # No Content-Length: aiohttp's own cap must still answer in our shape.
    streamed = await test_client.post("/echo", data=chunks(), headers={"Content-Type": "application/json"})
    assert streamed.status == 413
    assert_error_shape(await streamed.json(), "PAYLOAD_TOO_LARGE")


async def test_unhandled_error_is_500_without_traceback(test_client: Client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        response = await test_client.get("/boom")
    assert response.status == 500
    text = await response.text()
    assert "secret internals" not in text
    assert "Traceback" not in text
    assert_error_shape(await response.json(), "INTERNAL_ERROR")
    assert any("unhandled error" in record.message for record in caplog.records)


async def test_domain_error_maps_to_status(test_client: Client) -> None:
    response = await test_client.get("/conflict")
    assert response.status == 409
    body = await response.json()
    assert_error_shape(body, "EMAIL_TAKEN")
    assert body["detail"] == "Email already registered"


async def test_access_log_line(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="unibot.http"):
        await client.get("/health?token=supersecret", headers={"X-Request-ID": "rid-1"})
    records = [record for record in caplog.records if record.name == "unibot.http"]
    assert len(records) == 1
    record = records[0]
    assert record.__dict__["method"] == "GET"
    assert record.__dict__["path"] == "/health"
    assert record.__dict__["status"] == 200
    assert record.__dict__["request_id"] == "rid-1"
    assert isinstance(record.__dict__["duration_ms"], float)
    assert "supersecret" not in caplog.text


async def test_openapi_and_docs(client: Client) -> None:
    spec = await (await client.get("/openapi.json")).json()
    assert spec["openapi"].startswith("3.")
    assert "/health" in spec["paths"]
    docs = await client.get("/docs")
    assert docs.status == 200
    assert "openapi.json" in await docs.text()


# --- health when parts fail -----------------------------------------------------------------------------------------


async def _health_app(container: Container, aiohttp_client: AiohttpClient) -> Client:
    app = create_app(container=container, config=WebConfig(version="1", mode="local", max_body_bytes=1024))
    return await aiohttp_client(app)


@pytest.mark.sqlite_only
async def test_health_503_when_database_unusable(tmp_path: Path, aiohttp_client: AiohttpClient) -> None:
    container = await make_container(tmp_path, MemoryStore(), ManualClock())
    client = await _health_app(container, aiohttp_client)
    path = tmp_path / "test.db"
    original = path.read_bytes()[:100]
    with path.open("r+b") as handle:
        handle.write(b"garbage!" * 12 + b"xxxx")
    response = await client.get("/health")
    assert response.status == 503
    body = await response.json()
    assert body["status"] == "unhealthy"
    assert body["checks"]["database"] == "failed"
    assert body["checks"]["kv"] == "ok"
    assert body["error_code"] == "SERVICE_UNAVAILABLE"
    assert "database" in body["detail"]
    with path.open("r+b") as handle:
        handle.write(original)
    assert (await client.get("/health")).status == 200
    await container.close()
    await container.db.dispose()


async def test_health_503_when_redis_down(
    tmp_path: Path, own_redis: RedisServer, aiohttp_client: AiohttpClient
) -> None:
    store = RedisStore.from_url(own_redis.url)
    container = await make_container(tmp_path, store, ManualClock())
    client = await _health_app(container, aiohttp_client)
    assert (await client.get("/health")).status == 200
    own_redis.stop()
    response = await client.get("/health")
    assert response.status == 503
    body = await response.json()
    assert body["checks"] == {"database": "ok", "kv": "failed"}
    own_redis.start()
    assert (await client.get("/health")).status == 200
    await store.close()
    await container.close()
    await container.db.dispose()


@pytest.mark.sqlite_only
async def test_a_write_kept_out_of_sqlite_is_a_503_to_retry(make_client: Any, database_url: str) -> None:
    client = await make_client(db={"busy_timeout_ms": 200})
    token = (await register(client))["access_token"]
    # Another process holds the write lock past the busy timeout.
    locker = sqlite3.connect(database_url.split("///", 1)[1], timeout=0)
    locker.execute("BEGIN IMMEDIATE")
    try:
        busy = await client.put("/api/v1/auth/profile", json={"first_name": "Ann"}, headers=bearer(token))
        body = await busy.json()
    finally:
        locker.rollback()
        locker.close()
    assert (busy.status, busy.headers["Retry-After"], body["error_code"]) == (503, "1", "DATABASE_BUSY")
    assert "try again" in body["detail"]
    # Nothing was lost but the attempt: the retry goes through.
    again = await client.put("/api/v1/auth/profile", json={"first_name": "Ann"}, headers=bearer(token))
    assert again.status == 200
