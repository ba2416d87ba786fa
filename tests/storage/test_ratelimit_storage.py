"""The limiter's storage: in-process without Redis, the app's Redis (under the app's prefix) with it."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from limits import RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError
from redis.asyncio import Redis

from storage.ratelimit import SweepThrottledMemoryStorage, close_limits_storage, create_limits_storage
from tests.helpers.redis_server import RedisServer

ITEM = RateLimitItemPerSecond(3, 60)


async def test_memory_without_redis() -> None:
    storage = create_limits_storage(None, key_prefix="app:")
    assert isinstance(storage, MemoryStorage)
    limiter = SlidingWindowCounterRateLimiter(storage)
    assert [await limiter.hit(ITEM, "k") for _ in range(4)] == [True, True, True, False]
    await close_limits_storage(storage)


def test_upstream_sweep_hook_still_exists() -> None:
    # The throttle overrides a private coroutine of limits; an upgrade that renames it must fail here, loudly.
    assert callable(getattr(MemoryStorage, "_MemoryStorage__schedule_expiry", None))


async def test_memory_sweeps_at_most_once_per_interval() -> None:
    storage = SweepThrottledMemoryStorage(sweep_interval=3600)
    limiter = SlidingWindowCounterRateLimiter(storage)
    for n in range(200):
        await limiter.hit(ITEM, str(n))
        # Upstream starts its sweep only once the loop has run the previous one; give it every chance.
        await asyncio.sleep(0)
    assert storage.sweeps_started == 1


async def test_memory_sweep_still_reclaims_expired_counters() -> None:
    storage = SweepThrottledMemoryStorage(sweep_interval=0)
    short = RateLimitItemPerSecond(5, 1)
    await storage.incr("gone", 0.01)
    await asyncio.sleep(0.05)
    await SlidingWindowCounterRateLimiter(storage).hit(short, "fresh")
    for _ in range(5):
        await asyncio.sleep(0)
    assert "gone" not in storage.storage
    assert storage.sweeps_started >= 1


async def test_redis_keys_live_under_the_app_prefix(redis_server: RedisServer) -> None:
    prefix = f"app-{uuid.uuid4().hex}:"
    storage = create_limits_storage(redis_server.url, key_prefix=prefix)
    assert isinstance(storage, RedisStorage)
    await SlidingWindowCounterRateLimiter(storage).hit(ITEM, "general", "192.0.2.1")
    raw = Redis.from_url(redis_server.url)
    try:
        keys = [key.decode() async for key in raw.scan_iter(match=f"{prefix}*")]
    finally:
        await raw.aclose()
    assert keys
    assert all(key.startswith(f"{prefix}ratelimit:") for key in keys)
    await close_limits_storage(storage)


async def test_two_apps_on_one_redis_count_apart(redis_server: RedisServer) -> None:
    tag = uuid.uuid4().hex
    first = create_limits_storage(redis_server.url, key_prefix=f"one-{tag}:")
    second = create_limits_storage(redis_server.url, key_prefix=f"two-{tag}:")
    one, two = SlidingWindowCounterRateLimiter(first), SlidingWindowCounterRateLimiter(second)
    assert [await one.hit(ITEM, "same-client") for _ in range(4)] == [True, True, True, False]
    assert await two.hit(ITEM, "same-client")
    await close_limits_storage(first)
    await close_limits_storage(second)


@pytest.mark.parametrize("url", ["redis://localhost/0", "rediss://user:secret@cache.internal/1", "unix:///run/r.sock"])
async def test_any_url_redis_py_accepts_is_accepted(url: str) -> None:
    # No connection is made until the first command; only the URL handling is under test.
    storage = create_limits_storage(url, key_prefix="app:")
    assert isinstance(storage, RedisStorage)
    await close_limits_storage(storage)


async def test_dead_redis_fails_fast_with_storage_error(own_redis: RedisServer) -> None:
    storage = create_limits_storage(own_redis.url, key_prefix=f"t-{uuid.uuid4().hex}:")
    limiter = SlidingWindowCounterRateLimiter(storage)
    assert await limiter.hit(ITEM, "k")
    own_redis.stop()
    started = time.perf_counter()
    with pytest.raises(StorageError):
        await limiter.hit(ITEM, "k")
    assert time.perf_counter() - started < 0.5
    own_redis.start()
    # The pool's dropped connection is replaced on the next call.
    assert await limiter.hit(ITEM, "k")
    await close_limits_storage(storage)
