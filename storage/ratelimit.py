"""Counters for the request rate limiter (`limits`): in-process, or in the app's Redis so every replica shares them."""

from __future__ import annotations

import inspect
import time
from typing import Any

from limits.aio.storage import RedisStorage
from limits.aio.storage import Storage as SharedStorage
from limits.storage import MemoryStorage
from limits.storage import Storage as LocalStorage
from redis.asyncio import ConnectionPool

from storage.kv.redis import create_pool

# limits' MemoryStorage sweeps all counters with this (name-mangled) method; the hook that starts it,
# `_MemoryStorage__schedule_expiry`, runs after every increment and is overridden below.
_SWEEP = "_MemoryStorage__expire_events"

# What `create_limits_storage` makes: limits' async storage (Redis) or its synchronous one (memory).
LimitsStorage = SharedStorage | LocalStorage


def _without_error_wrappers(cls: type[MemoryStorage]) -> type[MemoryStorage]:
    """Give `cls` limits' plain methods instead of the error-translating wrappers around them.

    limits wraps its storage methods in an exception translator in `__init_subclass__`, and does so again at every
    subclass level, inherited methods included: each storage call on a subclass of MemoryStorage went through eight
    wrapper calls, half the limiter's cost per request. In-process counters raise nothing worth translating.
    """
    for name, value in vars(MemoryStorage).items():
        if not callable(value) or not hasattr(value, "__wrapped__"):
            continue
        plain = inspect.unwrap(value)
        own = vars(cls).get(name)
        # Only limits' own methods (wrapped once more for `cls`), never one that `cls` overrides.
        if own is None or inspect.unwrap(own) is plain:
            setattr(cls, name, plain)
    return cls


@_without_error_wrappers
class SweepThrottledMemoryStorage(MemoryStorage):
    """limits' synchronous in-process storage, with its expiry sweep run inline at most once per `sweep_interval`.

    Upstream starts a timer thread 10 ms after each increment (once the previous one has finished) that walks every
    live counter: under load that is a new thread about a hundred times a second and work in O(distinct clients)
    each time. Reads check expiry themselves, so the sweep only reclaims memory and can run rarely; run inline, it
    also never touches the counters from another thread while the event loop uses them.
    """

    def __init__(self, *, sweep_interval: float = 10.0) -> None:
        super().__init__()
        self.sweep_interval = sweep_interval
        self.sweeps_started = 0
        self._next_sweep = time.monotonic() + sweep_interval

    def _MemoryStorage__schedule_expiry(self) -> None:
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + self.sweep_interval
        self.sweeps_started += 1
        getattr(self, _SWEEP)()


def create_limits_storage(
    redis_url: str | None, *, key_prefix: str, pool: ConnectionPool | None = None
) -> LimitsStorage:
    """Memory without Redis; with it, keys `<key_prefix>ratelimit:...` so several apps can share one Redis. The
    process's shared pool is used when given (see storage.kv.redis.create_pool), else one is made from the URL."""
    if pool is None:
        if not redis_url:
            return SweepThrottledMemoryStorage()
        pool = create_pool(redis_url)
    # limits' URI parser would reject some URLs redis-py accepts (rediss://, unix://), so it gets an empty URI and
    # the pool.
    options: dict[str, Any] = {"connection_pool": pool}
    return RedisStorage(
        "async+redis://",
        implementation="redispy",
        key_prefix=f"{key_prefix}ratelimit",
        # One exception type (limits.errors.StorageError) for the caller to fail open on.
        wrap_exceptions=True,
        **options,
    )


async def close_limits_storage(storage: LimitsStorage) -> None:
    """Release the Redis connections of a storage made by `create_limits_storage`; memory needs nothing."""
    if isinstance(storage, RedisStorage):
        pool: object = storage.options.get("connection_pool")
        if isinstance(pool, ConnectionPool):
            await pool.aclose()
