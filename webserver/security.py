"""What runs before a declared operation's handler: rate limits and authentication.

Three credentials reach a route that needs a signed-in user:

* `Authorization: Bearer <access token>`, the usual one;
* `Authorization: tma <initData>`, the Mini App's: Telegram's signature over the data is the proof, so every
  call carries it and no session exists. A verified initData string is remembered per process until its
  max-age runs out, so its verification and database write happen once per string, not once per call;
* the Login Widget's cookie (an access token), only on GET and HEAD and only without an Authorization header.
  Browsers send a SameSite=Lax cookie on cross-site top-level navigations, which are GETs; every GET route that
  needs a user is read-only and answers without CORS headers, so a foreign page can neither read the answer nor
  use the cookie to change anything.
"""

from __future__ import annotations

import logging
from ipaddress import IPv4Network, IPv6Network
from typing import Literal

from aiohttp import web

from core.access import policy
from core.auth.guard import Authenticated, InitDataProof
from core.errors import Forbidden, Unauthorized
from core.identity.service import IdentityService
from webserver.client_ip import client_ip
from webserver.errors import ApiError
from webserver.keys import CONFIG, CONTAINER, TRUSTED_PROXIES
from webserver.ratelimit import enforce

log = logging.getLogger(__name__)

RateTier = Literal["auth", "general", "user", "service"]
AUTH = web.RequestKey("auth", Authenticated)
CLIENT_IP = web.RequestKey("client_ip", str)
# Rate-limit headers decided after the guard (the signed routes' per-client count); they replace the guard's.
LATE_RATE_HEADERS = web.RequestKey("late_rate_headers", dict[str, str])

_CHALLENGE = "Bearer"
_INVALID = 'Bearer error="invalid_token"'
_COOKIE_METHODS = frozenset({"GET", "HEAD"})
# The denylist column holds 64 characters; 60 hex digits of the fingerprint (240 bits) are still unique.
_TMA_JTI_DIGITS = 60


def request_ip(request: web.Request) -> str:
    existing: str | None = request.get(CLIENT_IP)
    if existing is not None:
        return existing
    trusted: tuple[IPv4Network | IPv6Network, ...] = request.app[TRUSTED_PROXIES]
    value = client_ip(request, trusted)
    request[CLIENT_IP] = value
    return value


def _invalid_token(detail: str = "Invalid or expired token") -> ApiError:
    return ApiError(401, detail, error_code="INVALID_TOKEN", headers={"WWW-Authenticate": _INVALID})


def _credentials(request: web.Request) -> tuple[str, str] | None:
    """(scheme in lower case, credentials) of the Authorization header, or None without one."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, credentials = header.strip().partition(" ")
    scheme = scheme.lower()
    if scheme not in ("bearer", "tma") or not credentials.strip():
        raise _invalid_token("Authorization must be 'Bearer <token>' or 'tma <initData>'")
    return scheme, credentials.strip()


def bearer_token(request: web.Request) -> str | None:
    credentials = _credentials(request)
    if credentials is None:
        return None
    scheme, value = credentials
    if scheme != "bearer":
        raise _invalid_token("Authorization must be 'Bearer <token>'")
    return value


async def authenticate(request: web.Request) -> Authenticated:
    """Who is calling, by bearer token, `tma` initData or the Login Widget's cookie, and whether the access policy
    lets them in (403 when it refuses)."""
    container = request.app[CONTAINER]
    credentials = _credentials(request)
    if credentials is None:
        cookie = _cookie_token(request)
        if cookie is None:
            raise ApiError(
                401, "Not authenticated", error_code="NOT_AUTHENTICATED", headers={"WWW-Authenticate": _CHALLENGE}
            )
        credentials = ("bearer", cookie)
    scheme, value = credentials
    try:
        if scheme == "tma":
            result = await container.guard.authenticate_init_data(value, lambda raw: _prove_init_data(request, raw))
        else:
            result = await container.guard.authenticate(value)
    except Unauthorized as exc:
        raise _invalid_token(exc.message) from None
    policy.require_access(result.user)
    request[AUTH] = result
    return result


async def _prove_init_data(request: web.Request, raw: str) -> InitDataProof:
    # Only when the guard has not seen this initData yet: it may create the Telegram account's user.
    async with request.app[CONTAINER].unit_of_work(write=True) as uow:
        return await IdentityService(uow).prove_init_data(raw)


def _cookie_token(request: web.Request) -> str | None:
    if request.method not in _COOKIE_METHODS:
        return None
    value = request.cookies.get(request.app[CONFIG].telegram.cookie_name)
    return value or None


async def guard(
    request: web.Request, *, rate: RateTier | None, auth: bool, access: str | None = None
) -> dict[str, str]:
    """Returns headers for the response; raises ApiError (401, 429) or Forbidden (403) to stop the request."""
    limiter = request.app[CONTAINER].limiter
    headers: dict[str, str] = {}
    if rate in ("auth", "general"):
        # The service tier is counted by the route itself, per client once a signature is verified
        # (webserver.signed.require_signature).
        headers = await enforce(limiter, rate, f"ip:{request_ip(request)}")
    if auth:
        try:
            authenticated = await authenticate(request)
        except ApiError as exc:
            exc.headers = {**headers, **exc.headers}
            raise
        if rate == "user":
            headers = await enforce(limiter, "user", f"user:{authenticated.user.id}")
        if access is not None:
            # The same rule the bot's handler flag applies, on the user as the guard just loaded it (current).
            try:
                policy.require_access(
                    authenticated.user, access, config=request.app[CONTAINER].config(policy.AccessConfig)
                )
            except Forbidden as exc:
                error = ApiError.from_domain(exc)
                error.headers = {**headers, **error.headers}
                raise error from None
    return headers
