"""The limiter's storage: in-process without Redis, the app's Redis (under the app's prefix) with it."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from limits import RateLimitItemPerSecond
from limits.aio.storage import RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter as SharedLimiter
from limits.errors import StorageError
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter
from redis.asyncio import Redis

from storage.ratelimit import SweepThrottledMemoryStorage, close_limits_storage, create_limits_storage
from tests.helpers.redis_server import RedisServer

ITEM = RateLimitItemPerSecond(3, 60)
# limits' sweep over every counter, private to its MemoryStorage (name-mangled).
SWEEP = "_MemoryStorage__expire_events"


async def test_memory_without_redis() -> None:
    storage = create_limits_storage(None, key_prefix="app:")
    # limits' synchronous storage: in process, the limiter calls it without awaiting anything.
    assert isinstance(storage, MemoryStorage)
    limiter = SlidingWindowCounterRateLimiter(storage)
    assert [limiter.hit(ITEM, "k") for _ in range(4)] == [True, True, True, False]
    await close_limits_storage(storage)


def test_upstream_sweep_methods_still_exist() -> None:
    # The throttle overrides and calls private methods of limits; an upgrade that renames them must fail here.
    assert callable(getattr(MemoryStorage, "_MemoryStorage__schedule_expiry", None))
    assert callable(getattr(MemoryStorage, SWEEP, None))


def test_memory_sweeps_at_most_once_per_interval() -> None:
    storage = SweepThrottledMemoryStorage(sweep_interval=0.2)
    sweeps: list[str] = []
    original = getattr(storage, SWEEP)

    def counting_sweep() -> None:
        sweeps.append(threading.current_thread().name)
        original()

    setattr(storage, SWEEP, counting_sweep)
    limiter = SlidingWindowCounterRateLimiter(storage)
    for n in range(200):
        limiter.hit(ITEM, str(n))
    time.sleep(0.25)
    for n in range(200):
        limiter.hit(ITEM, f"again-{n}")
    time.sleep(0.05)
    # One sweep, once the interval had passed, on the caller's thread; upstream would have run many on timers.
    assert sweeps == [threading.current_thread().name]
    assert storage.sweeps_started == 1


def test_memory_sweep_still_reclaims_expired_counters() -> None:
    storage = SweepThrottledMemoryStorage(sweep_interval=0)
    short = RateLimitItemPerSecond(5, 1)
    storage.incr("gone", 0.01)
    time.sleep(0.05)
    limiter = SlidingWindowCounterRateLimiter(storage)
    limiter.hit(short, "fresh")
    assert "gone" not in storage.storage
    assert storage.sweeps_started >= 1
    assert "fresh" in "".join(storage.storage), "the sweep kept the live counter"


async def test_redis_keys_live_under_the_app_prefix(redis_server: RedisServer) -> None:
    prefix = f"app-{uuid.uuid4().hex}:"
    storage = create_limits_storage(redis_server.url, key_prefix=prefix)
    assert isinstance(storage, RedisStorage)
    await SharedLimiter(storage).hit(ITEM, "general", "192.0.2.1")
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
    assert isinstance(first, RedisStorage)
    assert isinstance(second, RedisStorage)
    one, two = SharedLimiter(first), SharedLimiter(second)
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
    assert isinstance(storage, RedisStorage)
    limiter = SharedLimiter(storage)
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
