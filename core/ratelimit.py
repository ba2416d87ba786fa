"""Request rate limits per client and tier, counted in `limits` storage (memory or the shared Redis).

Strategy: sliding-window counter. Per client and tier it stores two integers, and each call is one short Lua
script on Redis. The moving window would store a timestamp per allowed request instead (up to 300 per user in the
user tier), search that list for every answer, and in process trim it in a worker thread per key. The counter
weights the previous window as if its requests were spread evenly, so it can be off by a fraction of that window's
count; for abuse protection that is plenty, and unlike a fixed window it never lets a client spend two full quotas
across a window boundary.

An allowed request costs two storage calls (window stats, then the hit) and a refused one only the first,
so a client hammering the API is turned away at the cheaper price.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError

from core.clock import Clock, SystemClock
from core.settings import RateLimitSettings

log = logging.getLogger(__name__)

AUTH = "auth"
GENERAL = "general"
USER = "user"


@dataclass(frozen=True, slots=True)
class RateLimitTier:
    name: str
    limit: int
    window_seconds: int

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window_seconds < 1:
            raise ValueError(f"rate limit tier {self.name!r} needs limit >= 1 and window_seconds >= 1")


@dataclass(frozen=True, slots=True)
class RateLimitResult:
    allowed: bool
    limit: int
    remaining: int
    # Unix seconds by which the quota has grown again.
    reset_at: int
    # Seconds to wait before retrying: 0 when allowed, at least 1 when refused.
    retry_after: int


def tiers_from_settings(settings: RateLimitSettings) -> dict[str, RateLimitTier]:
    window = settings.window_seconds
    return {
        AUTH: RateLimitTier(AUTH, settings.auth_limit, window),
        GENERAL: RateLimitTier(GENERAL, settings.general_limit, window),
        USER: RateLimitTier(USER, settings.user_limit, window),
    }


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
        storage: Storage,
        tiers: Mapping[str, RateLimitTier],
        *,
        enabled: bool = True,
        clock: Clock | None = None,
        outage_backoff: float = 1.0,
    ) -> None:
        for name, tier in tiers.items():
            if name != tier.name:
                raise ValueError(f"rate limit tier registered as {name!r} is named {tier.name!r}")
        self.enabled = enabled
        self.tiers = dict(tiers)
        self._items: dict[str, RateLimitItem] = {
            name: RateLimitItemPerSecond(tier.limit, tier.window_seconds) for name, tier in tiers.items()
        }
        self._strategy = SlidingWindowCounterRateLimiter(storage)
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
        item = self._items[tier]
        try:
            stats = await self._strategy.get_window_stats(item, tier, key)
            allowed = stats.remaining >= 1 and await self._strategy.hit(item, tier, key)
            if stats.remaining >= 1 and not allowed:
                # Another request took the last slot between the two calls; ask again for an honest wait.
                stats = await self._strategy.get_window_stats(item, tier, key)
        except self._storage_errors as exc:
            self._skip_until = self._clock.time() + self._outage_backoff
            self.outages.failed(exc)
            return _unlimited(spec)
        if self.outages.failing:
            self.outages.succeeded()
        # limits reads time.time() itself, so its reset times are compared with the same clock.
        now = time.time()
        if allowed:
            # A key without hits reports reset_time == now; after this first hit the quota starts coming back
            # within one window.
            reset = stats.reset_time if stats.reset_time > now else now + spec.window_seconds
            return RateLimitResult(
                allowed=True,
                limit=spec.limit,
                remaining=max(0, stats.remaining - 1),
                reset_at=math.ceil(reset),
                retry_after=0,
            )
        retry_after = max(1, math.ceil(stats.reset_time - now))
        return RateLimitResult(
            allowed=False,
            limit=spec.limit,
            remaining=0,
            reset_at=math.ceil(max(stats.reset_time, now + 1)),
            retry_after=retry_after,
        )


def _unlimited(spec: RateLimitTier) -> RateLimitResult:
    return RateLimitResult(
        allowed=True,
        limit=spec.limit,
        remaining=spec.limit,
        reset_at=math.ceil(time.time()) + spec.window_seconds,
        retry_after=0,
    )
