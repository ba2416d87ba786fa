"""Which address a request comes from, behind zero or more trusted proxies; and the 429 that rate limits answer."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Sequence
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict
from pytest_aiohttp import AiohttpClient

from core.ratelimit import RateLimiter, RateLimitResult, RateLimitTier
from storage.ratelimit import create_limits_storage
from tests.helpers.catalogs import LOCALES
from webserver.client_ip import IPNetwork, client_ip, parse_trusted
from webserver.errors import ApiError
from webserver.i18n import Translations
from webserver.middlewares import request_middleware
from webserver.ratelimit import enforce, rate_limit_headers

PROXIES = parse_trusted(["10.0.0.0/8", "192.0.2.10", "2001:db8:ffff::/48"])


def resolve(peer: str, forwarded: Sequence[str] = (), trusted: Sequence[IPNetwork] = PROXIES) -> str:
    headers = CIMultiDict[str]([("X-Forwarded-For", value) for value in forwarded])
    request = make_mocked_request("GET", "/", headers=headers).clone(remote=peer)
    return client_ip(request, trusted)


def test_parse_trusted_accepts_addresses_and_networks() -> None:
    assert [str(n) for n in parse_trusted([" 10.0.0.0/8", "192.0.2.10", "::1", "2001:db8::/32"])] == [
        "10.0.0.0/8",
        "192.0.2.10/32",
        "::1/128",
        "2001:db8::/32",
    ]
    assert parse_trusted([]) == ()
    # Written as IPv4-mapped, still meant as the IPv4 proxy the peer address will be normalised to.
    assert [str(n) for n in parse_trusted(["::ffff:192.0.2.10", "::ffff:10.0.0.0/104"])] == [
        "192.0.2.10/32",
        "10.0.0.0/8",
    ]


@pytest.mark.parametrize("entry", ["proxy.internal", "10.0.0.1/8", "300.1.1.1", "", "10.0.0.0/33"])
def test_parse_trusted_names_the_bad_entry(entry: str) -> None:
    with pytest.raises(ValueError, match=r"web\.trusted_proxies") as info:
        parse_trusted(["10.0.0.0/8", entry])
    assert repr(entry) in str(info.value)


def test_untrusted_peer_is_the_client_whatever_it_forwards() -> None:
    assert resolve("198.51.100.7", ["1.2.3.4"]) == "198.51.100.7"
    assert resolve("198.51.100.7", ["1.2.3.4"], trusted=()) == "198.51.100.7"


def test_trusted_peer_yields_the_right_most_untrusted_entry() -> None:
    # The client forged the first entry; our proxy appended the address it really saw.
    assert resolve("10.1.2.3", ["6.6.6.6, 198.51.100.7"]) == "198.51.100.7"


def test_chain_of_trusted_proxies_is_walked() -> None:
    assert resolve("10.0.0.1", ["6.6.6.6, 198.51.100.7, 192.0.2.10, 10.9.9.9"]) == "198.51.100.7"


def test_several_headers_are_one_list() -> None:
    assert resolve("10.0.0.1", ["6.6.6.6", "198.51.100.7, 10.2.2.2", "10.3.3.3"]) == "198.51.100.7"


def test_trusted_peer_without_forwarding_is_itself() -> None:
    assert resolve("10.0.0.1") == "10.0.0.1"


def test_all_hops_trusted_gives_the_furthest_one() -> None:
    assert resolve("10.0.0.1", ["10.0.0.7, 10.0.0.8"]) == "10.0.0.7"


@pytest.mark.parametrize(
    ("forwarded", "expected"),
    [
        # Garbage right after our proxy: the proxy's own view (the peer) is all we know.
        (["198.51.100.7, not-an-ip"], "10.0.0.1"),
        (["198.51.100.7, 10.0.0.5, <script>"], "10.0.0.1"),
        # Garbage behind a trusted hop: stop at that hop, never skip over the garbage to what lies left of it.
        (["198.51.100.7, junk, 10.0.0.5"], "10.0.0.5"),
        (["198.51.100.7, , 10.0.0.5"], "10.0.0.5"),
        (["198.51.100.7, 1.2.3.4:80, 10.0.0.5"], "10.0.0.5"),
        # Garbage left of the client never matters.
        (["junk, 198.51.100.7, 10.0.0.5"], "198.51.100.7"),
    ],
)
def test_malformed_entries_are_never_trusted(forwarded: list[str], expected: str) -> None:
    assert resolve("10.0.0.1", forwarded) == expected


def test_ipv6_is_normalised() -> None:
    assert resolve("2001:DB8:0:0::0:1") == "2001:db8::1"
    assert resolve("2001:db8:ffff::1", ["2001:0db8:0000:0001:0000:0000:0000:0007"]) == "2001:db8:0:1::7"
    assert resolve("2001:db8:ffff::1", ["fe80::1%<script>"]) == "fe80::1"


def test_ipv4_mapped_addresses_are_plain_ipv4() -> None:
    assert resolve("::ffff:198.51.100.7") == "198.51.100.7"
    # A mapped peer is matched against IPv4 trust, and a mapped forwarded entry is reported as IPv4.
    assert resolve("::ffff:10.0.0.1", ["::ffff:198.51.100.7"]) == "198.51.100.7"


def test_cidr_trust_boundaries() -> None:
    trusted = parse_trusted(["192.0.2.0/30"])
    assert resolve("192.0.2.3", ["198.51.100.7"], trusted=trusted) == "198.51.100.7"
    assert resolve("192.0.2.4", ["198.51.100.7"], trusted=trusted) == "192.0.2.4"


def test_no_peer_address_is_unknown() -> None:
    assert resolve("") == "unknown"
    assert resolve("/run/app.sock") == "unknown"


async def client_ip_app(trusted: Sequence[IPNetwork]) -> web.Application:
    async def whoami(request: web.Request) -> web.Response:
        return web.Response(text=client_ip(request, trusted))

    app = web.Application()
    app.router.add_get("/", whoami)
    return app


async def test_real_request_through_a_trusted_loopback_proxy(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(await client_ip_app(parse_trusted(["127.0.0.0/8"])))
    headers = CIMultiDict[str]([("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-For", "198.51.100.7")])
    response = await client.get("/", headers=headers)
    assert await response.text() == "198.51.100.7"
    untrusted = await aiohttp_client(await client_ip_app(()))
    response = await untrusted.get("/", headers=headers)
    assert await response.text() == "127.0.0.1"


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="needs unix sockets")
async def test_real_request_over_a_unix_socket(tmp_path: Path) -> None:
    runner = web.AppRunner(await client_ip_app(parse_trusted(["127.0.0.0/8"])))
    await runner.setup()
    path = str(tmp_path / "app.sock")
    site = web.UnixSite(runner, path)
    await site.start()
    try:
        async with (
            aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=path)) as session,
            session.get("http://app/", headers={"X-Forwarded-For": "198.51.100.7"}) as response,
        ):
            assert await response.text() == "unknown"
    finally:
        await runner.cleanup()


# Rate limit answers (webserver/ratelimit.py).


def limiter(limit: int) -> RateLimiter:
    return RateLimiter(create_limits_storage(None, key_prefix=""), {"auth": RateLimitTier("auth", limit, 60)})


def test_rate_limit_headers() -> None:
    result = RateLimitResult(allowed=True, limit=10, remaining=7, reset_at=1_900_000_000, retry_after=0)
    assert rate_limit_headers(result) == {
        "X-RateLimit-Limit": "10",
        "X-RateLimit-Remaining": "7",
        "X-RateLimit-Reset": "1900000000",
    }


async def test_enforce_returns_headers_then_raises_429() -> None:
    limits = limiter(2)
    first = await enforce(limits, "auth", "198.51.100.7")
    assert first["X-RateLimit-Limit"] == "2"
    assert first["X-RateLimit-Remaining"] == "1"
    assert "Retry-After" not in first
    await enforce(limits, "auth", "198.51.100.7")
    with pytest.raises(ApiError) as info:
        await enforce(limits, "auth", "198.51.100.7")
    error = info.value
    assert error.status == 429
    assert error.error_code == "RATE_LIMITED"
    assert error.detail == "Rate limit exceeded. Please slow down your requests."
    assert error.headers["X-RateLimit-Limit"] == "2"
    assert error.headers["X-RateLimit-Remaining"] == "0"
    retry_after = int(error.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert time.time() < int(error.headers["X-RateLimit-Reset"]) <= time.time() + 61


async def test_429_reaches_the_client_with_its_headers(aiohttp_client: AiohttpClient) -> None:
    limits = limiter(1)

    async def limited(request: web.Request) -> web.Response:
        headers = await enforce(limits, "auth", client_ip(request, ()))
        return web.json_response({"ok": True}, headers=headers)

    app = web.Application(middlewares=[request_middleware(1024 * 1024, Translations(LOCALES, ("en",), "en"))])
    app.router.add_get("/", limited)
    client = await aiohttp_client(app)
    ok = await client.get("/")
    assert ok.status == 200
    assert ok.headers["X-RateLimit-Remaining"] == "0"
    refused = await client.get("/")
    assert refused.status == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(refused.headers)
    body = json.loads(await refused.text())
    assert body["error_code"] == "RATE_LIMITED"
