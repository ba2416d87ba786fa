"""Signed service calls on the web face: which outside bots this app accepts, and the check their routes run first.

The scheme itself is ``core.signing``. Here it meets aiohttp: the registered clients come with the app's
configuration (so two apps in one process, as in tests, never share clients), nonces go to the app's key-value
store (so replicas share them), and every refusal becomes the same 401 whatever the reason, which only the log
names.
"""

from __future__ import annotations

import logging
import re

from aiohttp import web

from core.ratelimit import AUTH, SERVICE
from core.signing import HEADER_CLIENT_ID, SignatureError, verify_signed_request
from storage.kv import KeyValueUnavailable
from webserver.errors import ApiError
from webserver.keys import CONFIG, CONTAINER
from webserver.ratelimit import enforce
from webserver.security import LATE_RATE_HEADERS, request_ip

log = logging.getLogger(__name__)

SIGNATURE_ERROR_DETAIL = "Invalid request signature"
SIGNATURE_ERROR_CODE = "INVALID_SIGNATURE"
SIGNING_HEADERS_DOC = (
    "Signed call (docs/signed-calls.md), for registered outside bots only: the request carries `X-Client-Id`, "
    "`X-Timestamp` (Unix seconds), `X-Nonce` (16-128 of `A-Z a-z 0-9 _ -`, never reused) and `X-Signature` "
    "(hex HMAC-SHA256 of METHOD, path with query, timestamp, nonce and the body's SHA-256). An unsigned, badly "
    "signed, stale or replayed request is 401 INVALID_SIGNATURE, with the same body whatever the reason."
)

# Only for the log line: a client id that does not look like one may carry anything, line breaks included.
_LOGGABLE_CLIENT_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def signature_error() -> ApiError:
    return ApiError(401, SIGNATURE_ERROR_DETAIL, error_code=SIGNATURE_ERROR_CODE)


async def require_signature(request: web.Request) -> str:
    """The verified client id, or ``ApiError(401)``. Must run before anything parses the body.

    The raw bytes are read here; aiohttp keeps them, so the handler's later ``request.read()`` (and
    ``parse_body``) sees exactly the bytes that were verified.
    """
    config = request.app[CONFIG]
    container = request.app[CONTAINER]
    body = await request.read()
    kv = container.kv

    async def claim_nonce(key: str, ttl: int) -> bool:
        try:
            return await kv.set_if_absent(key, b"1", ttl=ttl)
        except KeyValueUnavailable:
            # Without the shared store a replay cannot be told apart, so the call is refused, but as an outage:
            # the caller did nothing wrong and may retry (with a new nonce).
            log.warning("signed call refused: nonce store unavailable", extra={"path": request.path})
            raise ApiError(503, "Service temporarily unavailable", error_code="SERVICE_UNAVAILABLE") from None

    try:
        client_id = await verify_signed_request(
            headers=request.headers,
            method=request.method,
            path=request.raw_path,
            body=body,
            clients=config.signing_clients,
            clock=container.clock,
            claim_nonce=claim_nonce,
            window=config.signing_window,
        )
    except SignatureError as exc:
        claimed = request.headers.get(HEADER_CLIENT_ID, "")
        log.info(
            "signed call refused",
            extra={
                "reason": exc.reason,
                "path": request.path,
                "client_id": claimed if _LOGGABLE_CLIENT_ID.fullmatch(claimed) else None,
            },
        )
        # Failures count against the caller's address in the strict tier: past it, junk gets 429 instead of 401.
        request[LATE_RATE_HEADERS] = await enforce(container.limiter, AUTH, f"ip:{request_ip(request)}")
        raise signature_error() from None
    # Counted per client, not per IP: an outside bot calls for every user it serves, from one address or many.
    request[LATE_RATE_HEADERS] = await enforce(container.limiter, SERVICE, f"client:{client_id}")
    return client_id


# auth_sessions.method is 32 characters; a client id may be 64.
_METHOD_LIMIT = 32
_METHOD_PREFIX = "service:"


def session_method(client_id: str) -> str:
    """How sessions opened for a client are labelled in the session list; cut to fit, it stays recognisable."""
    return (_METHOD_PREFIX + client_id)[:_METHOD_LIMIT]
