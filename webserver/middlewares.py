"""Request id, access log, security headers and the single error shape."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from core.errors import DomainError
from webserver.errors import ApiError, error_response

log = logging.getLogger("unibot.http")

REQUEST_ID = web.RequestKey("request_id", str)
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def request_id_of(request: web.BaseRequest) -> str:
    existing = request.get(REQUEST_ID)
    if isinstance(existing, str):
        return existing
    incoming = request.headers.get("X-Request-ID", "")
    # A client's id is echoed only when it cannot smuggle anything into headers or logs.
    value = incoming if _REQUEST_ID_RE.fullmatch(incoming) else uuid.uuid4().hex
    request[REQUEST_ID] = value
    return value


@web.middleware
async def access_log_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    request_id = request_id_of(request)
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        # The path only: query strings can carry tokens (initData, codes) and must not reach logs.
        log.info(
            "%s %s %s",
            request.method,
            request.path,
            status,
            extra={
                "method": request.method,
                "path": request.path,
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "request_id": request_id,
            },
        )


def body_limit_middleware(max_bytes: int) -> Middleware:
    @web.middleware
    async def body_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        # Refuse a declared oversized body before reading any of it; aiohttp still caps undeclared ones.
        if request.content_length is not None and request.content_length > max_bytes:
            raise ApiError(413, f"Request body is larger than {max_bytes} bytes")
        return await handler(request)

    return body_limit


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc)
    except DomainError as exc:
        return error_response(ApiError.from_domain(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {key: value for key, value in exc.headers.items() if key.lower() in {"allow", "retry-after"}}
        return error_response(ApiError(exc.status, _reason(exc), headers=headers))
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("unhandled error", extra={"request_id": request_id_of(request), "path": request.path})
        return error_response(ApiError(500, "Internal server error"))


def _reason(exc: web.HTTPException) -> str:
    if exc.status == 404:
        return "Not found"
    if exc.status == 405:
        return "Method not allowed"
    if exc.status == 413:
        return "Request body is too large"
    return exc.reason


async def add_response_headers(request: web.BaseRequest, response: web.StreamResponse) -> None:
    response.headers["X-Request-ID"] = request_id_of(request)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
