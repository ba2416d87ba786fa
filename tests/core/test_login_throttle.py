"""Delays after failed sign-ins, on the in-process store and on a real redis-server; time moves only by the clock."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import uuid

import pytest
from redis.asyncio import Redis

from core.clock import ManualClock
from core.login_throttle import LoginThrottle, account_key, failure_delay
from storage.kv import KeyValueStore, MemoryStore, RedisStore
from tests.helpers.redis_server import RedisServer

MEMORY = 900
ALICE = "alice@example.com"
IP = "203.0.113.5"
KEY = b"login-throttle-test-key-0123456789"


def make(kv: KeyValueStore, clock: ManualClock) -> LoginThrottle:
    return LoginThrottle(
        kv, clock, key=KEY, free_failures=2, account_max_delay=8, ip_max_delay=32, memory_seconds=MEMORY
    )


async def fail(throttle: LoginThrottle, times: int, account: str = ALICE, ip: str = IP) -> None:
    for _ in range(times):
        await throttle.record_failure(account, ip)


def test_delay_schedule() -> None:
    delays = [failure_delay(n, free_failures=2, max_delay=30) for n in range(10)]
    assert delays == [0, 0, 0, 1, 2, 4, 8, 16, 30, 30]
    assert failure_delay(10**6, free_failures=0, max_delay=300) == 300


async def test_free_failures_then_growing_delays(kv: KeyValueStore) -> None:
    clock = ManualClock()
    throttle = make(kv, clock)
    await fail(throttle, 2)
    assert await throttle.retry_after(ALICE, IP) is None
    expected = [1, 2, 4, 8]
    for delay in expected:
        await fail(throttle, 1)
        assert await throttle.retry_after(ALICE, IP) == delay
        # The delay runs from the last failure and shrinks as time passes.
        clock.advance(delay - 0.5)
        assert await throttle.retry_after(ALICE, IP) == 1
        clock.advance(0.5)
        assert await throttle.retry_after(ALICE, IP) is None


async def test_account_delay_is_capped_low(kv: KeyValueStore) -> None:
    clock = ManualClock()
    throttle = make(kv, clock)
    # Many guessers, each below its own IP's free failures: only the account counter grows.
    for n in range(12):
        await throttle.record_failure(ALICE, f"198.51.100.{n}")
    assert await throttle.retry_after(ALICE, "192.0.2.200") == 8


async def test_ip_delay_has_its_own_higher_cap(kv: KeyValueStore) -> None:
    clock = ManualClock()
    throttle = make(kv, clock)
    # One guesser across many accounts: only the IP counter grows.
    for n in range(12):
        await throttle.record_failure(f"victim{n}@example.com", IP)
    assert await throttle.retry_after("someone-else@example.com", IP) == 32
    assert await throttle.retry_after("someone-else@example.com", "192.0.2.200") is None


async def test_success_clears_the_account_not_the_ip(kv: KeyValueStore) -> None:
    clock = ManualClock()
    throttle = make(kv, clock)
    await fail(throttle, 5)
    assert await throttle.retry_after(ALICE, IP) == 4
    await throttle.record_success(ALICE, IP)
    assert await throttle.retry_after(ALICE, "192.0.2.200") is None
    assert await throttle.retry_after("bob@example.com", IP) == 4
    # The account starts over: its free failures are free again.
    await fail(throttle, 2, ip="192.0.2.200")
    assert await throttle.retry_after(ALICE, "192.0.2.201") is None
    await fail(throttle, 1, ip="192.0.2.200")
    assert await throttle.retry_after(ALICE, "192.0.2.201") == 1


async def test_failures_are_forgotten_after_memory_seconds_from_the_last(kv: KeyValueStore) -> None:
    clock = ManualClock()
    throttle = make(kv, clock)
    await fail(throttle, 4)
    clock.advance(MEMORY - 100)
    await fail(throttle, 1)
    # 800 s after the first failures but only 0 s after the last: still remembered, five in the streak.
    assert await throttle.retry_after(ALICE, IP) == 4
    clock.advance(MEMORY - 1)
    assert await throttle.retry_after(ALICE, IP) is None
    clock.advance(1)
    assert await throttle.retry_after(ALICE, IP) is None
    # A new streak starts from zero, whatever the store still holds in real time.
    await fail(throttle, 2)
    assert await throttle.retry_after(ALICE, IP) is None
    await fail(throttle, 1)
    assert await throttle.retry_after(ALICE, IP) == 1


async def test_account_is_normalised(kv: KeyValueStore) -> None:
    clock = ManualClock()
    throttle = make(kv, clock)
    for n, spelling in enumerate(["  Alice@Example.COM ", "ALICE@example.com", "alice@EXAMPLE.com\n"]):
        await throttle.record_failure(spelling, f"198.51.100.{n}")
    assert await throttle.retry_after(ALICE, "192.0.2.200") == 1
    assert account_key(" ALICE@example.com", KEY) == hmac.new(KEY, ALICE.encode(), hashlib.sha256).hexdigest()


async def test_parallel_failures_all_count(kv: KeyValueStore) -> None:
    clock = ManualClock()
    throttle = make(kv, clock)
    # Eight at once, with no streak yet: they must agree on one counter rather than each starting its own.
    await asyncio.gather(*(throttle.record_failure(ALICE, f"198.51.100.{n}") for n in range(8)))
    assert await throttle.retry_after(ALICE, "192.0.2.200") == 8
    clock.advance(MEMORY)
    # And again when the previous streak has just been forgotten.
    await asyncio.gather(*(throttle.record_failure(ALICE, f"198.51.100.{n}") for n in range(6)))
    assert await throttle.retry_after(ALICE, "192.0.2.200") == 8


async def test_no_address_appears_in_any_key(redis_server: RedisServer) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    kv = RedisStore.from_url(redis_server.url, prefix=prefix)
    throttle = make(kv, ManualClock())
    await fail(throttle, 4, account=" Alice@Example.com")
    await throttle.record_success("alice@example.com", IP)
    await fail(throttle, 1, account="ALICE@EXAMPLE.COM")
    raw = Redis.from_url(redis_server.url, decode_responses=True)
    try:
        keys = [str(key) async for key in raw.scan_iter(match=f"{prefix}*")]
        values = [str(await raw.get(key)) for key in keys]
    finally:
        await raw.aclose()
        await kv.close()
    assert keys
    # A keyed hash: someone who can read the store cannot confirm a guessed address by hashing it.
    assert any(account_key(ALICE, KEY) in key for key in keys)
    plain = hashlib.sha256(ALICE.encode()).hexdigest()
    assert not any(plain in key for key in keys)
    assert account_key(ALICE, KEY) != account_key(ALICE, b"another-key-0123456789")
    for text in keys + values:
        assert "alice" not in text.casefold()
        assert "example" not in text.casefold()


async def test_store_down_fails_open(own_redis: RedisServer, caplog: pytest.LogCaptureFixture) -> None:
    clock = ManualClock()
    kv = RedisStore.from_url(own_redis.url, prefix=f"test:{uuid.uuid4().hex}:")
    throttle = make(kv, clock)
    try:
        await fail(throttle, 5)
        assert await throttle.retry_after(ALICE, IP) == 4
        own_redis.stop()
        caplog.set_level(logging.INFO, logger="core.login_throttle")
        assert await throttle.retry_after(ALICE, IP) is None
        await throttle.record_failure(ALICE, IP)
        await throttle.record_success(ALICE, IP)
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1
        assert "login throttle store unavailable" in warnings[0].getMessage()
    finally:
        await kv.close()


def test_refuses_bad_parameters() -> None:
    with pytest.raises(ValueError, match="delays >= 1"):
        LoginThrottle(
            MemoryStore(),
            ManualClock(),
            key=KEY,
            free_failures=0,
            account_max_delay=0,
            ip_max_delay=1,
            memory_seconds=1,
        )
    with pytest.raises(ValueError, match="key"):
        LoginThrottle(
            MemoryStore(),
            ManualClock(),
            key=b"short",
            free_failures=0,
            account_max_delay=1,
            ip_max_delay=1,
            memory_seconds=1,
        )
