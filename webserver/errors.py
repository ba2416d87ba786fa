"""The one error shape every response uses: {"detail", "error_code", "timestamp"} (+ "errors" for validation)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from core.errors import DomainError, TooManyRequests, Unauthorized, Unavailable

_DEFAULT_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}


def default_code(status: int) -> str:
    return _DEFAULT_CODES.get(status, "ERROR")


class ApiError(Exception):
    """Raised by handlers; rendered by the error middleware."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        error_code: str | None = None,
        headers: Mapping[str, str] | None = None,
        errors: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.error_code = error_code or default_code(status)
        self.headers = dict(headers or {})
        self.errors = list(errors) if errors is not None else None

    @classmethod
    def from_domain(cls, error: DomainError) -> ApiError:
        headers: dict[str, str] = {}
        if isinstance(error, (TooManyRequests, Unavailable)):
            headers["Retry-After"] = str(max(1, error.retry_after))
        if isinstance(error, Unauthorized) and error.code == "invalid_token":
            headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return cls(error.status_hint, error.message, error_code=error.code.upper(), headers=headers)


def error_body(
    status: int, detail: str, error_code: str | None = None, errors: Sequence[Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "detail": detail,
        "error_code": error_code or default_code(status),
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }
    if errors is not None:
        body["errors"] = list(errors)
    return body


def error_response(error: ApiError) -> web.Response:
    return web.Response(
        status=error.status,
        text=json.dumps(error_body(error.status, error.detail, error.error_code, error.errors), ensure_ascii=False),
        content_type="application/json",
        headers=error.headers,
    )
