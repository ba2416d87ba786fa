"""The outside client signs independently of core.signing; these tests hold the two to the same scheme."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import given
from hypothesis import strategies as st
from unibot_client import UnibotServiceClient, sign_request
from unibot_client import canonical_request as client_canonical_request

from core.clock import SystemClock
from core.signing import SignatureError, SigningClient, canonical_request, sign, verify_signed_request

SECRET = "client-secret-0123456789abcdef0123456789abcdef"
ROTATED = "rotated-secret-0123456789abcdef0123456789abcd"
CLIENT = SigningClient("partner-bot", (SECRET, ROTATED))

methods = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "post"])
paths = st.from_regex(r"/[A-Za-z0-9/_.~%=&?+-]{0,60}", fullmatch=True)
nonces = st.from_regex(r"[A-Za-z0-9_-]{16,128}", fullmatch=True)


@given(
    method=methods,
    path=paths,
    timestamp=st.integers(0, 10**10),
    nonce=nonces,
    body=st.binary(max_size=200),
    secret=st.text(min_size=1, max_size=64),
)
def test_outside_client_signature_equals_core_sign(
    method: str, path: str, timestamp: int, nonce: str, body: bytes, secret: str
) -> None:
    assert client_canonical_request(method, path, timestamp, nonce, body) == canonical_request(
        method, path, timestamp, nonce, body
    )
    assert sign_request(secret, method, path, timestamp, nonce, body) == sign(
        secret, method, path, timestamp, nonce, body
    )


@dataclass
class Recorder:
    nonces: set[str] = field(default_factory=set)
    requests: list[dict[str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    async def claim(self, key: str, ttl: int) -> bool:
        if key in self.nonces:
            return False
        self.nonces.add(key)
        return True


@pytest.fixture
async def service() -> AsyncIterator[tuple[str, Recorder]]:
    """A local server that verifies every call with core.signing, exactly as the real routes will."""
    recorder = Recorder()

    async def handler(request: web.Request) -> web.Response:
        body = await request.read()
        try:
            client_id = await verify_signed_request(
                headers=request.headers,
                method=request.method,
                path=request.raw_path,
                body=body,
                clients={CLIENT.client_id: CLIENT},
                clock=SystemClock(),
                claim_nonce=recorder.claim,
            )
        except SignatureError as error:
            recorder.failures.append(error.reason)
            return web.json_response({"error": "unauthorized"}, status=401)
        recorder.requests.append(
            {
                "client": client_id,
                "method": request.method,
                "path": request.path,
                "raw_path": request.raw_path,
                "query": dict(request.query),
                "json": json.loads(body) if body else None,
                "authorization": request.headers.get("Authorization"),
                "content_type": request.headers.get("Content-Type"),
            }
        )
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/"), recorder
    finally:
        await server.close()


async def test_signed_request_with_tricky_query_and_unicode_body_is_verified(
    service: tuple[str, Recorder],
) -> None:
    base_url, recorder = service
    params: dict[str, str | int] = {"q": "a/b c&d=é+~", "page": 2}
    payload = {"name": "Zoë 🚀", "n": 1}
    async with UnibotServiceClient(base_url, "partner-bot", SECRET) as client:
        status, body = await client.request("POST", "/api/v1/things", json=payload, params=params)
    assert (status, body) == (200, {"ok": True}), recorder.failures
    [seen] = recorder.requests
    assert seen["query"] == {"q": "a/b c&d=é+~", "page": "2"}
    assert seen["json"] == payload
    assert seen["content_type"] == "application/json"
    assert seen["raw_path"].startswith("/api/v1/things?q=a%2Fb%20c%26d%3D%C3%A9%2B~")


async def test_get_without_body(service: tuple[str, Recorder]) -> None:
    base_url, recorder = service
    async with UnibotServiceClient(base_url, "partner-bot", ROTATED) as client:
        status, _ = await client.request("GET", "/api/v1/ping")
    assert status == 200, recorder.failures


async def test_every_request_gets_a_fresh_nonce(service: tuple[str, Recorder]) -> None:
    base_url, recorder = service
    async with UnibotServiceClient(base_url, "partner-bot", SECRET) as client:
        for _ in range(3):
            assert (await client.token_get(1))[0] == 200
    assert len(recorder.nonces) == 3


async def test_wrong_secret_gets_401(service: tuple[str, Recorder]) -> None:
    base_url, recorder = service
    async with UnibotServiceClient(base_url, "partner-bot", "wrong-secret-0123456789abcdef01234567") as client:
        status, body = await client.token_get(1)
    assert (status, body) == (401, {"error": "unauthorized"})
    assert recorder.failures == ["signature mismatch"]


async def test_stale_client_clock_gets_401(service: tuple[str, Recorder]) -> None:
    base_url, recorder = service
    async with UnibotServiceClient(base_url, "partner-bot", SECRET, clock=lambda: 1_000_000_000) as client:
        status, _ = await client.token_get(1)
    assert status == 401
    assert recorder.failures == ["timestamp outside window"]


async def test_convenience_methods_send_the_documented_requests(service: tuple[str, Recorder]) -> None:
    base_url, recorder = service
    async with UnibotServiceClient(base_url + "/", "partner-bot", SECRET) as client:
        assert (await client.telegram_register(42, username="ann", first_name="Ann", referred_by_id=7))[0] == 200
        assert (await client.token_get(42))[0] == 200
        assert (await client.refresh_telegram(42))[0] == 200
        assert (await client.telegram_start(42))[0] == 200
        assert (await client.telegram_confirm("CODE-1", 42, "user-jwt", username="ann"))[0] == 200
    assert recorder.failures == []
    sent = [(r["method"], r["path"], r["json"], r["authorization"]) for r in recorder.requests]
    assert sent == [
        (
            "POST",
            "/api/v1/auth/register",
            {"telegram_id": 42, "username_tg": "ann", "first_name": "Ann", "last_name": None, "referred_by_id": 7},
            None,
        ),
        ("POST", "/api/v1/auth/token/get", {"chat_id": 42}, None),
        ("POST", "/api/v1/auth/token/refresh-telegram", {"chat_id": 42}, None),
        ("POST", "/api/v1/auth/telegram/start", {"chat_id": 42}, None),
        (
            "POST",
            "/api/v1/auth/telegram/confirm",
            {"code": "CODE-1", "chat_id": 42, "username": "ann", "first_name": None, "last_name": None},
            "Bearer user-jwt",
        ),
    ]


@pytest.mark.parametrize("base_url", ["ftp://host", "host:8080", "https://host/prefix", "https://host?x=1", "https://"])
def test_base_url_must_be_an_origin(base_url: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        UnibotServiceClient(base_url, "partner-bot", SECRET)


@pytest.mark.parametrize("path", ["api", "/a b", "/a?x=1", "/a/../b", "/a/.", "/caf\u00e9", "/%41"])
async def test_paths_that_could_be_rewritten_in_transit_are_refused(path: str) -> None:
    async with UnibotServiceClient("http://127.0.0.1:9", "partner-bot", SECRET) as client:
        with pytest.raises(ValueError, match="path"):
            await client.request("GET", path)


@pytest.mark.parametrize("header", ["X-Signature", "x-nonce", "X-TIMESTAMP", "X-Client-Id"])
async def test_signing_headers_cannot_be_overridden(header: str) -> None:
    async with UnibotServiceClient("http://127.0.0.1:9", "partner-bot", SECRET) as client:
        with pytest.raises(ValueError, match="set by the client"):
            await client.request("GET", "/x", headers={header: "x"})


async def test_request_outside_the_context_manager_is_an_error() -> None:
    client = UnibotServiceClient("http://127.0.0.1:9", "partner-bot", SECRET)
    with pytest.raises(RuntimeError):
        await client.request("GET", "/x")
