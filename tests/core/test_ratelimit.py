"""The request rate limiter on in-process storage and on a real redis-server."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from core.clock import ManualClock
from core.ratelimit import RateLimiter, RateLimitResult, RateLimitTier
from storage.ratelimit import LimitsStorage, close_limits_storage, create_limits_storage
from tests.helpers.redis_server import RedisServer


def tiers(limit: int = 3, window: int = 60) -> dict[str, RateLimitTier]:
    return {
        "auth": RateLimitTier("auth", limit, window),
        "general": RateLimitTier("general", limit * 2, window),
    }


@pytest.fixture
async def storage(store_kind: str, request: pytest.FixtureRequest) -> AsyncIterator[LimitsStorage]:
    url = request.getfixturevalue("redis_server").url if store_kind == "redis" else None
    created = create_limits_storage(url, key_prefix=f"test:{uuid.uuid4().hex}:")
    yield created
    await close_limits_storage(created)


async def test_allows_the_limit_then_refuses(storage: LimitsStorage) -> None:
    limiter = RateLimiter(storage, tiers(limit=3, window=60))
    results = [await limiter.hit("auth", "198.51.100.7") for _ in range(4)]
    assert [r.allowed for r in results] == [True, True, True, False]
    assert [r.remaining for r in results] == [2, 1, 0, 0]
    assert all(r.limit == 3 for r in results)
    assert [r.retry_after for r in results[:3]] == [0, 0, 0]

    now = time.time()
    refused = results[3]
    assert 1 <= refused.retry_after <= 60
    assert now < refused.reset_at <= now + 61
    # The reset a client is told must not come before the wait it is told.
    assert refused.reset_at >= int(now) + refused.retry_after - 1
    for allowed in results[:3]:
        assert now < allowed.reset_at <= now + 61


async def test_keys_and_tiers_count_apart(storage: LimitsStorage) -> None:
    limiter = RateLimiter(storage, tiers(limit=2))
    assert [(await limiter.hit("auth", "a")).allowed for _ in range(3)] == [True, True, False]
    assert (await limiter.hit("auth", "b")).allowed
    # Same key, other tier (limit 4): untouched by the auth tier's refusals.
    general = [await limiter.hit("general", "a") for _ in range(5)]
    assert [r.allowed for r in general] == [True, True, True, True, False]
    assert general[0].remaining == 3


async def test_concurrent_hits_never_exceed_the_limit(storage: LimitsStorage) -> None:
    limiter = RateLimiter(storage, tiers(limit=5))
    results = await asyncio.gather(*(limiter.hit("auth", "burst") for _ in range(20)))
    assert sum(r.allowed for r in results) == 5
    assert all(r.retry_after >= 1 for r in results if not r.allowed)


async def test_the_window_slides(storage: LimitsStorage) -> None:
    limiter = RateLimiter(storage, tiers(limit=4, window=1))
    # In-process windows are aligned to whole seconds; four hits split across a boundary would muddle the count.
    if time.time() % 1 > 0.9:
        await asyncio.sleep(1 - time.time() % 1 + 0.01)
    assert all([(await limiter.hit("auth", "s")).allowed for _ in range(4)])
    refused = await limiter.hit("auth", "s")
    assert not refused.allowed
    assert refused.retry_after == 1

    deadline = time.monotonic() + refused.retry_after + 0.5
    while not (await limiter.hit("auth", "s")).allowed:
        assert time.monotonic() < deadline, "still refused well after Retry-After"
        await asyncio.sleep(0.02)
    # A fixed window would now hand out a whole new quota of 4; the sliding one still weighs the previous
    # window's hits (almost fully, this close to its end) and frees only one slot.
    assert not (await limiter.hit("auth", "s")).allowed


async def test_disabled_allows_everything_with_plain_headers(storage: LimitsStorage) -> None:
    limiter = RateLimiter(storage, tiers(limit=1, window=60), enabled=False)
    results = [await limiter.hit("auth", "x") for _ in range(5)]
    now = time.time()
    for result in results:
        assert result.allowed
        assert (result.limit, result.remaining, result.retry_after) == (1, 1, 0)
        assert now + 58 <= result.reset_at <= now + 61


async def test_fails_open_while_redis_is_down(own_redis: RedisServer, caplog: pytest.LogCaptureFixture) -> None:
    clock = ManualClock()
    storage = create_limits_storage(own_redis.url, key_prefix=f"test:{uuid.uuid4().hex}:")
    limiter = RateLimiter(storage, tiers(limit=2), clock=clock, outage_backoff=1.0)
    try:
        assert [(await limiter.hit("auth", "k")).allowed for _ in range(3)] == [True, True, False]

        own_redis.stop()
        caplog.set_level(logging.INFO, logger="core.ratelimit")
        during: list[RateLimitResult] = []
        for _ in range(5):
            during.append(await limiter.hit("auth", "k"))
            # Past the back-off, so each hit really asks the dead server.
            clock.advance(1.5)
        assert all(r.allowed for r in during)
        assert during[0].remaining == during[0].limit == 2
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1, "an outage is reported once per interval, not once per request"
        assert "rate limit storage unavailable" in warnings[0].getMessage()

        own_redis.start()
        clock.advance(1.5)
        assert [(await limiter.hit("auth", "k")).allowed for _ in range(3)] == [True, True, False]
        assert any("reachable again" in r.getMessage() for r in caplog.records)
    finally:
        await close_limits_storage(storage)


async def test_backs_off_from_a_failing_storage(own_redis: RedisServer) -> None:
    clock = ManualClock()
    storage = create_limits_storage(own_redis.url, key_prefix=f"test:{uuid.uuid4().hex}:")
    limiter = RateLimiter(storage, tiers(limit=1), clock=clock, outage_backoff=5.0)
    try:
        own_redis.stop()
        assert (await limiter.hit("auth", "k")).allowed
        own_redis.start()
        # Within the back-off the storage is not asked, even though it is back.
        assert [(await limiter.hit("auth", "k")).allowed for _ in range(3)] == [True, True, True]
        clock.advance(5)
        assert [(await limiter.hit("auth", "k")).allowed for _ in range(2)] == [True, False]
    finally:
        await close_limits_storage(storage)


async def test_unknown_tier_and_misnamed_tier_are_errors() -> None:
    storage = create_limits_storage(None, key_prefix="")
    limiter = RateLimiter(storage, tiers())
    with pytest.raises(KeyError):
        await limiter.hit("nope", "k")
    with pytest.raises(ValueError, match="named 'general'"):
        RateLimiter(storage, {"auth": RateLimitTier("general", 1, 1)})
    with pytest.raises(ValueError, match="limit >= 1"):
        RateLimitTier("auth", 0, 60)
