"""What runs before a declared operation's handler: rate limits and bearer authentication."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network
from typing import Literal

from aiohttp import web

from core.auth.guard import Authenticated
from core.errors import Unauthorized
from webserver.client_ip import client_ip
from webserver.errors import ApiError
from webserver.keys import SERVICES, TRUSTED_PROXIES
from webserver.ratelimit import enforce

RateTier = Literal["auth", "general", "user"]
AUTH = web.RequestKey("auth", Authenticated)
CLIENT_IP = web.RequestKey("client_ip", str)

_CHALLENGE = "Bearer"
_INVALID = 'Bearer error="invalid_token"'


def request_ip(request: web.Request) -> str:
    existing: str | None = request.get(CLIENT_IP)
    if existing is not None:
        return existing
    trusted: tuple[IPv4Network | IPv6Network, ...] = request.app[TRUSTED_PROXIES]
    value = client_ip(request, trusted)
    request[CLIENT_IP] = value
    return value


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, credentials = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise ApiError(
            401,
            "Authorization must be 'Bearer <token>'",
            error_code="INVALID_TOKEN",
            headers={"WWW-Authenticate": _INVALID},
        )
    return credentials.strip()


async def authenticate(request: web.Request) -> Authenticated:
    token = bearer_token(request)
    if token is None:
        raise ApiError(
            401, "Not authenticated", error_code="NOT_AUTHENTICATED", headers={"WWW-Authenticate": _CHALLENGE}
        )
    try:
        result = await request.app[SERVICES].guard.authenticate(token)
    except Unauthorized as exc:
        raise ApiError(401, exc.message, error_code="INVALID_TOKEN", headers={"WWW-Authenticate": _INVALID}) from None
    request[AUTH] = result
    return result


async def guard(request: web.Request, *, rate: RateTier | None, auth: bool) -> dict[str, str]:
    """Returns headers for the response; raises ApiError (401, 429) to stop the request."""
    limiter = request.app[SERVICES].limiter
    headers: dict[str, str] = {}
    if rate in ("auth", "general"):
        headers = await enforce(limiter, rate, f"ip:{request_ip(request)}")
    if auth:
        try:
            authenticated = await authenticate(request)
        except ApiError as exc:
            exc.headers = {**headers, **exc.headers}
            raise
        if rate == "user":
            headers = await enforce(limiter, "user", f"user:{authenticated.user.id}")
    return headers
