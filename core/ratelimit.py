"""Request rate limits per client and tier, counted in `limits` storage (memory or the shared Redis).

Strategy: sliding-window counter. Per client and tier it stores two integers, and each call is one short Lua
script on Redis. The moving window would store a timestamp per allowed request instead (up to 300 per user in the
user tier), search that list for every answer, and in process trim it in a worker thread per key. The counter
weights the previous window as if its requests were spread evenly, so it can be off by a fraction of that window's
count; for abuse protection that is plenty, and unlike a fixed window it never lets a client spend two full quotas
across a window boundary.

An allowed request costs two storage calls (read the window, then take an entry) and a refused one only the first,
so a client hammering the API is turned away at the cheaper price. The limiter talks to the storage's
sliding-window primitives rather than through `limits`' strategy object, which only adds a key builder and a
coroutine layer around the same calls.

Two kinds of storage: `limits`' async storage for a shared Redis, and its synchronous in-process storage when
there is no Redis. In-process counters are plain dictionaries; awaiting them through the async storage's layers of
coroutines and locks cost more than the rest of the rate limit and made it a third of the busiest request's time.
Called synchronously, the read and the entry cannot interleave with another request either.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from limits.aio.storage import SlidingWindowCounterSupport as SharedWindows
from limits.errors import StorageError
from limits.storage import SlidingWindowCounterSupport as LocalWindows

from core.clock import Clock, SystemClock
from storage.ratelimit import LimitsStorage

log = logging.getLogger(__name__)

AUTH = "auth"
GENERAL = "general"
USER = "user"
SERVICE = "service"


@dataclass(frozen=True, slots=True)
class RateLimitTier:
    name: str
    limit: int
    window_seconds: int

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window_seconds < 1:
            raise ValueError(f"rate limit tier {self.name!r} needs limit >= 1 and window_seconds >= 1")


class RateLimitResult(NamedTuple):
    """One per request: a tuple because a frozen dataclass's __init__ costs several times as much on this path."""

    allowed: bool
    limit: int
    remaining: int
    # Unix seconds by which the quota has grown again.
    reset_at: int
    # Seconds to wait before retrying: 0 when allowed, at least 1 when refused.
    retry_after: int


class OutageReporter:
    """Logs that a shared store is failing at most once per `interval` seconds and once when it is back.

    Failing open happens on every request during an outage; one line per request would bury the logs.
    """

    def __init__(self, what: str, clock: Clock, *, interval: float = 10.0, logger: logging.Logger = log) -> None:
        self.what = what
        self.clock = clock
        self.interval = interval
        self.logger = logger
        self.failing = False
        self._suppressed = 0
        self._next_report = -math.inf

    def failed(self, error: BaseException) -> None:
        self.failing = True
        now = self.clock.time()
        if now < self._next_report:
            self._suppressed += 1
            return
        self.logger.warning(
            "%s unavailable, not enforced: %s",
            self.what,
            error,
            extra={"suppressed_failures": self._suppressed},
        )
        self._suppressed = 0
        self._next_report = now + self.interval

    def succeeded(self) -> None:
        if self.failing:
            self.failing = False
            self.logger.info("%s reachable again", self.what)
            self._suppressed = 0
            self._next_report = -math.inf


class RateLimiter:
    """Counts hits per (tier, key) and says whether one more is allowed.

    When the storage fails the request is allowed: an outage of the cache must not take the API down. After a
    failure the storage is left alone for `outage_backoff` seconds, so a Redis that hangs costs one timeout per
    back-off rather than one per request.
    """

    def __init__(
        self,
        storage: LimitsStorage,
        tiers: Mapping[str, RateLimitTier],
        *,
        enabled: bool = True,
        clock: Clock | None = None,
        outage_backoff: float = 1.0,
    ) -> None:
        for name, tier in tiers.items():
            if name != tier.name:
                raise ValueError(f"rate limit tier registered as {name!r} is named {tier.name!r}")
        self._local: LocalWindows | None = None
        self._shared: SharedWindows | None = None
        if isinstance(storage, LocalWindows):
            self._local = storage
        elif isinstance(storage, SharedWindows):
            self._shared = storage
        else:
            raise TypeError(f"{type(storage).__name__} has no sliding-window counters")
        self.enabled = enabled
        self.tiers = dict(tiers)
        base = storage.base_exceptions
        self._storage_errors: tuple[type[BaseException], ...] = (
            StorageError,
            OSError,
            *(base if isinstance(base, tuple) else (base,)),
        )
        self._clock = clock or SystemClock()
        self._outage_backoff = outage_backoff
        self._skip_until = -math.inf
        self.outages = OutageReporter("rate limit storage", self._clock)

    async def hit(self, tier: str, key: str) -> RateLimitResult:
        spec = self.tiers[tier]
        if not self.enabled or self._clock.time() < self._skip_until:
            return _unlimited(spec)
        counter = f"{tier}/{key}"
        try:
            if self._local is not None:
                allowed, window = self._take_local(counter, spec)
            else:
                allowed, window = await self._take_shared(counter, spec)
        except self._storage_errors as exc:
            self._skip_until = self._clock.time() + self._outage_backoff
            self.outages.failed(exc)
            return _unlimited(spec)
        if self.outages.failing:
            self.outages.succeeded()
        return _result(spec, allowed, window)

    def _take_local(self, counter: str, spec: RateLimitTier) -> tuple[bool, _Window]:
        assert self._local is not None
        window = _Window(*self._local.get_sliding_window(counter, spec.window_seconds))
        # Nothing runs between the read and the entry (no await), so the read is still true when it is counted.
        allowed = window.remaining(spec) >= 1 and self._local.acquire_sliding_window_entry(
            counter, spec.limit, spec.window_seconds, 1
        )
        return allowed, window

    async def _take_shared(self, counter: str, spec: RateLimitTier) -> tuple[bool, _Window]:
        assert self._shared is not None
        seconds = spec.window_seconds
        window = _Window(*await self._shared.get_sliding_window(counter, seconds))
        if window.remaining(spec) < 1:
            return False, window
        # The entry is taken atomically by a script on the server, whatever other replicas did since the read.
        if await self._shared.acquire_sliding_window_entry(counter, spec.limit, seconds, 1):
            return True, window
        # Another request took the last slot between the two calls; read again for an honest wait.
        return False, _Window(*await self._shared.get_sliding_window(counter, seconds))


class _Window(NamedTuple):
    """`limits`' view of one counter: hits in the previous and current window and the seconds each has left."""

    previous: int
    previous_ttl: float
    current: int
    current_ttl: float

    def remaining(self, spec: RateLimitTier) -> int:
        weighted = self.previous * self.previous_ttl / spec.window_seconds + self.current
        return spec.limit - math.floor(weighted)


def _result(spec: RateLimitTier, allowed: bool, window: _Window) -> RateLimitResult:
    """The answer from the window as read before this hit."""
    # limits reads time.time() itself, so its window times are compared with the same clock.
    now = time.time()
    if allowed:
        # After this hit the quota starts coming back within one window at the latest.
        regain = _next_regain(window, spec.window_seconds) if window.previous or window.current else 0.0
        return RateLimitResult(
            allowed=True,
            limit=spec.limit,
            remaining=window.remaining(spec) - 1,
            reset_at=math.ceil(now + (regain or spec.window_seconds)),
            retry_after=0,
        )
    regain = _next_regain(window, spec.window_seconds)
    return RateLimitResult(
        allowed=False,
        limit=spec.limit,
        remaining=0,
        reset_at=math.ceil(now + max(regain, 1.0)),
        retry_after=max(1, math.ceil(regain)),
    )


def _next_regain(window: _Window, seconds: int) -> float:
    """Seconds until the weighted count next drops by one: the previous window's weight falls by one request every
    seconds/previous; the current window's count moves into the previous one when the window turns. (The estimate
    `limits`' strategy reports as its reset time.)"""
    previous_regain = window.previous_ttl % (seconds / window.previous) if window.previous else math.inf
    current_regain = window.current_ttl % seconds if window.current else math.inf
    return min(previous_regain, current_regain)


def _unlimited(spec: RateLimitTier) -> RateLimitResult:
    return RateLimitResult(
        allowed=True,
        limit=spec.limit,
        remaining=spec.limit,
        reset_at=math.ceil(time.time()) + spec.window_seconds,
        retry_after=0,
    )
