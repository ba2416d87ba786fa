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
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network
from typing import Literal

from aiohttp import web

from core.auth.guard import Authenticated
from core.errors import Unauthorized
from webserver.client_ip import client_ip
from webserver.errors import ApiError
from webserver.keys import CONFIG, SERVICES, TRUSTED_PROXIES
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


@dataclass(frozen=True, slots=True)
class TelegramWebConfig:
    """Login Widget cookie and redirect; set by `webserver.routes.telegram.configure_telegram_routes`."""

    cookie_name: str = "unibot_access"
    redirect_url: str = "/"
    secure_cookies: bool = True


TELEGRAM_WEB = web.AppKey("telegram_web", TelegramWebConfig)


def telegram_web_config(app: web.Application) -> TelegramWebConfig:
    configured = app.get(TELEGRAM_WEB)
    if configured is not None:
        return configured
    # Unconfigured apps (tests, tools) still get safe cookies everywhere but on a developer's machine.
    return TelegramWebConfig(secure_cookies=app[CONFIG].mode != "local")


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
    services = request.app[SERVICES]
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
            result = await services.guard.authenticate_init_data(value)
        else:
            result = await services.guard.authenticate(value)
    except Unauthorized as exc:
        raise _invalid_token(exc.message) from None
    request[AUTH] = result
    return result


def _cookie_token(request: web.Request) -> str | None:
    if request.method not in _COOKIE_METHODS:
        return None
    value = request.cookies.get(telegram_web_config(request.app).cookie_name)
    return value or None


async def guard(request: web.Request, *, rate: RateTier | None, auth: bool) -> dict[str, str]:
    """Returns headers for the response; raises ApiError (401, 429) to stop the request."""
    limiter = request.app[SERVICES].limiter
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
    return headers
