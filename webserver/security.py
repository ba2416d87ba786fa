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

import hashlib
import logging
import weakref
from collections import OrderedDict
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from ipaddress import IPv4Network, IPv6Network
from typing import Literal
from urllib.parse import parse_qsl

from aiohttp import web

from core.auth.guard import Authenticated, Principal
from core.auth.state import UserState
from core.errors import DomainError, Unauthorized
from core.services import ServiceFactory
from core.users.dto import UserDTO
from storage.kv import KeyValueUnavailable
from storage.repositories.auth import AuthRepository
from storage.repositories.users import UserRepository
from webserver.client_ip import client_ip
from webserver.errors import ApiError
from webserver.keys import CONFIG, SERVICES, TRUSTED_PROXIES
from webserver.ratelimit import enforce

log = logging.getLogger(__name__)

RateTier = Literal["auth", "general", "user"]
AUTH = web.RequestKey("auth", Authenticated)
CLIENT_IP = web.RequestKey("client_ip", str)

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
            result = await _tma_cache(request.app).authenticate(value, services)
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


# --- Authorization: tma <initData> ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _TmaEntry:
    telegram_id: int
    jti: str
    expires: float
    user: UserDTO


class TmaCache:
    """initData strings this process verified, by digest, each kept until its max-age runs out.

    Only verified strings enter, so an anonymous caller cannot fill it; the bound keeps memory flat anyway.
    Each hit still reads the published user state (one key-value round trip, as for a bearer token), so a
    disabled, unlinked or retired user stops being accepted at once.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[bytes, _TmaEntry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def authenticate(self, raw: str, services: ServiceFactory) -> Authenticated:
        key = hashlib.sha256(raw.encode("utf-8", "surrogatepass")).digest()
        now = services.clock.time()
        entry = self._entries.get(key)
        if entry is not None and entry.expires <= now:
            del self._entries[key]
            entry = None
        if entry is not None:
            user = await self._current_user(entry, services)
            if user is not None:
                self._remember(key, _TmaEntry(entry.telegram_id, entry.jti, entry.expires, user))
                return self._authenticated(entry, user)
            # The user behind this Telegram account changed (linked, unlinked): resolve it again.
            self._entries.pop(key, None)
        entry = await self._verify(raw, services)
        if await self._denied(entry, services):
            raise Unauthorized("invalid_token", "Invalid or expired token")
        if not entry.user.is_active:
            raise Unauthorized("invalid_token", "Invalid or expired token")
        self._remember(key, entry)
        return self._authenticated(entry, entry.user)

    def _remember(self, key: bytes, entry: _TmaEntry) -> None:
        if not self._size:
            return
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    @staticmethod
    def _authenticated(entry: _TmaEntry, user: UserDTO) -> Authenticated:
        principal = Principal(
            user_id=user.id,
            session_id=None,
            jti=entry.jti,
            expires_at=datetime.fromtimestamp(entry.expires, UTC),
            token_version=user.token_version,
        )
        return Authenticated(principal=principal, user=user)

    @staticmethod
    async def _verify(raw: str, services: ServiceFactory) -> _TmaEntry:
        identity = services.identity
        try:
            proof = identity.verify_init_data(raw)
            user = await identity.user_for_init_data(raw)
        except DomainError as exc:
            # Malformed and forged alike: for a credential header the client's only move is to sign in again.
            raise Unauthorized("invalid_token", "Invalid or expired token") from exc
        # The string verified, so it is strictly `key=value&...` with one numeric auth_date.
        auth_date = int(dict(parse_qsl(raw, keep_blank_values=True))["auth_date"])
        return _TmaEntry(
            telegram_id=proof.user.id,
            jti=f"tma:{proof.fingerprint[:_TMA_JTI_DIGITS]}",
            expires=auth_date + identity.config.max_age,
            user=user,
        )

    @staticmethod
    async def _denied(entry: _TmaEntry, services: ServiceFactory) -> bool:
        try:
            status = await services.auth_state.status(entry.jti, None, entry.user.id)
        except KeyValueUnavailable:
            async with services.unit_of_work(write=False) as uow:
                return await AuthRepository(uow.session).is_denied(entry.jti)
        return status.denied

    @staticmethod
    async def _current_user(entry: _TmaEntry, services: ServiceFactory) -> UserDTO | None:
        """The cached user while still valid for this entry; None when it must be resolved again.

        Raises Unauthorized when the initData was signed out (`POST /auth/logout` with this header).
        """
        cached = entry.user
        published: UserState | None = None
        try:
            status = await services.auth_state.status(entry.jti, None, cached.id)
            denied, published = status.denied, status.user
        except KeyValueUnavailable:
            log.warning("auth state store unavailable; checking the database")
            async with services.unit_of_work(write=False) as uow:
                denied = await AuthRepository(uow.session).is_denied(entry.jti)
        if denied:
            raise Unauthorized("invalid_token", "Invalid or expired token")
        if published is not None and published.revision == cached.revision:
            user: UserDTO | None = cached
        else:
            async with services.unit_of_work(write=False) as uow:
                row = await UserRepository(uow.session).get(cached.id)
                user = UserDTO.from_model(row) if row is not None else None
            if user is not None and published is None:
                with suppress(KeyValueUnavailable):
                    await services.auth_state.offer_user(
                        user.id, UserState(user.token_version, user.is_active, user.revision)
                    )
        if user is None or user.telegram_id != entry.telegram_id:
            return None
        if not user.is_active:
            raise Unauthorized("invalid_token", "Invalid or expired token")
        return user


_TMA_CACHES: weakref.WeakKeyDictionary[web.Application, TmaCache] = weakref.WeakKeyDictionary()


def _tma_cache(app: web.Application) -> TmaCache:
    # Per application, not per module: two apps in one process (tests) may trust different bot tokens.
    cache = _TMA_CACHES.get(app)
    if cache is None:
        cache = TmaCache(app[SERVICES].config.token_cache_size)
        _TMA_CACHES[app] = cache
    return cache


def tma_cache(app: web.Application) -> TmaCache:
    """The app's verified-initData cache; exposed for tests and diagnostics."""
    return _tma_cache(app)
