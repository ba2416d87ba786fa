"""Signed service calls on the web face: which outside bots this app accepts, and the check their routes run first.

The scheme itself is ``core.signing``. Here it meets aiohttp: the registry lives on the application (so two apps
in one process, as in tests, never share clients), nonces go to the app's key-value store (so replicas share them),
and every refusal becomes the same 401 whatever the reason, which only the log names.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from aiohttp import web

from core.ratelimit import AUTH, SERVICE
from core.settings import SigningSettings
from core.signing import HEADER_CLIENT_ID, SignatureError, SigningClient, verify_signed_request
from storage.kv import KeyValueUnavailable
from webserver.errors import ApiError
from webserver.keys import CLOCK, SERVICES
from webserver.ratelimit import enforce
from webserver.security import LATE_RATE_HEADERS, request_ip

__all__ = [
    "SIGNATURE_ERROR_CODE",
    "SIGNATURE_ERROR_DETAIL",
    "SIGNING_CLIENTS",
    "SIGNING_HEADERS_DOC",
    "SigningRegistry",
    "configure_signing",
    "require_signature",
    "signature_error",
]

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
_DEFAULT_WINDOW = 300


@dataclass(frozen=True, slots=True)
class SigningRegistry:
    """The outside bots one app accepts and how far their clocks may drift from ours."""

    clients: Mapping[str, SigningClient] = field(default_factory=lambda: MappingProxyType({}))
    window: int = _DEFAULT_WINDOW


SIGNING_CLIENTS = web.AppKey("signing_clients", SigningRegistry)

# An app that was never configured refuses every signed call: no registered client can match.
_NOBODY = SigningRegistry()


def configure_signing(app: web.Application, settings: SigningSettings) -> None:
    """Register the clients listed in ``settings.clients``; call before the app starts (it is frozen then).

    Secrets of ids not listed are ignored: the list is what the operator allows, the secrets only back it.
    """
    secrets = settings.client_secrets()
    clients = {client_id: SigningClient(client_id, secrets[client_id]) for client_id in settings.clients}
    unlisted = sorted(set(secrets) - set(clients))
    if unlisted:
        log.warning("signing secrets without a listed client are ignored", extra={"clients": unlisted})
    app[SIGNING_CLIENTS] = SigningRegistry(clients=MappingProxyType(clients), window=settings.window_seconds)
    log.info("signed service clients registered", extra={"clients": sorted(clients)})


def signature_error() -> ApiError:
    return ApiError(401, SIGNATURE_ERROR_DETAIL, error_code=SIGNATURE_ERROR_CODE)


async def require_signature(request: web.Request) -> str:
    """The verified client id, or ``ApiError(401)``. Must run before anything parses the body.

    The raw bytes are read here; aiohttp keeps them, so the handler's later ``request.read()`` (and
    ``parse_body``) sees exactly the bytes that were verified.
    """
    registry = request.app.get(SIGNING_CLIENTS, _NOBODY)
    body = await request.read()
    kv = request.app[SERVICES].kv

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
            clients=registry.clients,
            clock=request.app[CLOCK],
            claim_nonce=claim_nonce,
            window=registry.window,
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
        limiter = request.app[SERVICES].limiter
        request[LATE_RATE_HEADERS] = await enforce(limiter, AUTH, f"ip:{request_ip(request)}")
        raise signature_error() from None
    # Counted per client, not per IP: an outside bot calls for every user it serves, from one address or many.
    limiter = request.app[SERVICES].limiter
    request[LATE_RATE_HEADERS] = await enforce(limiter, SERVICE, f"client:{client_id}")
    return client_id
