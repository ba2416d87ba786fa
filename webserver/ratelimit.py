"""Rate limits on the HTTP side: the X-RateLimit-* headers and the 429 answer."""

from __future__ import annotations

from core.ratelimit import RateLimiter, RateLimitResult
from webserver.errors import ApiError
from webserver.i18n import N_

RATE_LIMITED_DETAIL = N_("Rate limit exceeded. Please slow down your requests.")


def rate_limit_headers(result: RateLimitResult) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(result.limit),
        "X-RateLimit-Remaining": str(result.remaining),
        "X-RateLimit-Reset": str(result.reset_at),
    }


async def enforce(limiter: RateLimiter, tier: str, key: str) -> dict[str, str]:
    """Count one request; the headers to add to the response, or ApiError 429 when the client is over its limit."""
    result = await limiter.hit(tier, key)
    headers = rate_limit_headers(result)
    if not result.allowed:
        headers["Retry-After"] = str(result.retry_after)
        raise ApiError(429, RATE_LIMITED_DETAIL, error_code="RATE_LIMITED", headers=headers)
    return headers
