"""Request id, access log, security headers and the single error shape."""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import secrets
import time
from collections.abc import MutableMapping

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from core.errors import DomainError
from core.logging import FieldsRecord
from webserver.errors import ApiError, error_response
from webserver.i18n import N_, Translations
from webserver.security import AUTH

log = logging.getLogger("unibot.http")

REQUEST_ID = web.RequestKey("request_id", str)
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


class RequestIds:
    """Request ids: a client's own when it is safe to echo, else a random per-process prefix and a counter.

    Ids only have to be unique, not unguessable, so one getrandom() call per process replaces one per request
    (uuid4); 80 random bits keep the prefixes of replicas apart.
    """

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(10)
        self._counter = itertools.count()

    def __call__(self, request: web.BaseRequest) -> str:
        incoming = request.headers.get("X-Request-ID")
        # A client's id is echoed only when it cannot smuggle anything into headers or logs.
        if incoming is not None and _REQUEST_ID_RE.fullmatch(incoming):
            value = incoming
        else:
            value = f"{self._prefix}{next(self._counter):012x}"
        request[REQUEST_ID] = value
        return value


def request_middleware(max_body_bytes: int, translations: Translations) -> Middleware:
    """Everything every request gets, in one layer (each aiohttp middleware layer has a per-request cost, and
    this one sits on the hot path): request id, body limit, the single error shape, security headers and one
    access-log line."""
    request_id_of = RequestIds()

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        request_id = request_id_of(request)
        try:
            # Refuse a declared oversized body before reading any of it; aiohttp still caps undeclared ones.
            if request.content_length is not None and request.content_length > max_body_bytes:
                raise ApiError(413, "Request body is too large")
            response = await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                _decorate(exc.headers, request_id)
                _log(request, exc.status, started, request_id)
                raise
            response = error_response(_localized(request, _from_http(exc), translations))
        except Exception as exc:
            response = _error_for(exc, request, request_id, translations)
        except asyncio.CancelledError:
            _log(request, 499, started, request_id)
            raise
        if not response.prepared:
            _decorate(response.headers, request_id)
        _log(request, response.status, started, request_id)
        return response

    return middleware


def _decorate(headers: MutableMapping[str, str], request_id: str) -> None:
    headers["X-Request-ID"] = request_id
    for name, value in SECURITY_HEADERS.items():
        headers.setdefault(name, value)


def _log(request: web.Request, status: int, started: float, request_id: str) -> None:
    if not log.isEnabledFor(logging.INFO):
        return
    method = request.method
    # The path only: query strings can carry tokens (initData, codes) and must not reach logs.
    path = request.path
    fields: dict[str, object] = {
        "method": method,
        "path": path,
        "status": status,
        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        "request_id": request_id,
    }
    log.handle(FieldsRecord(log.name, logging.INFO, "%s %s %s", (method, path, status), fields))


def _from_http(exc: web.HTTPException) -> ApiError:
    headers = {key: value for key, value in exc.headers.items() if key.lower() in {"allow", "retry-after"}}
    return ApiError(exc.status, _reason(exc), headers=headers)


def caller_language(request: web.Request, translations: Translations) -> str:
    """The language a request is answered in: `Accept-Language`, else the signed-in user's saved one, else the
    default."""
    signed_in = request.get(AUTH)
    saved = signed_in.user.language if signed_in is not None else None
    return translations.pick(request.headers.get("Accept-Language"), saved)


def _localized(request: web.Request, error: ApiError, translations: Translations) -> ApiError:
    """The error's detail in the caller's language; its code stays as it is."""
    error.detail = translations.gettext(error.detail, caller_language(request, translations))
    return error


def _error_for(
    exc: Exception, request: web.Request, request_id: str, translations: Translations
) -> web.Response:
    if isinstance(exc, ApiError):
        return error_response(_localized(request, exc, translations))
    if isinstance(exc, DomainError):
        return error_response(_localized(request, ApiError.from_domain(exc), translations))
    log.error(
        "unhandled error", exc_info=exc, extra={"request_id": request_id, "path": request.path}
    )
    return error_response(_localized(request, ApiError(500, "Internal server error"), translations))


def _reason(exc: web.HTTPException) -> str:
    if exc.status == 404:
        return N_("Not found")
    if exc.status == 405:
        return N_("Method not allowed")
    if exc.status == 413:
        return N_("Request body is too large")
    return exc.reason
