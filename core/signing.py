"""Signed service calls: how a registered outside bot proves each request is its own, fresh and unreplayed.

The scheme is specified in docs/signed-calls.md; ``clients/python/unibot_client.py`` implements the
signing side again without importing this module, and a test keeps the two in agreement.

Every failure raises ``SignatureError``; its ``reason`` is for logs. Callers answer all of them with the
same 401 so a client learns nothing about which check failed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets as secrets_module
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from core.clock import Clock

__all__ = [
    "HEADER_CLIENT_ID",
    "HEADER_NONCE",
    "HEADER_SIGNATURE",
    "HEADER_TIMESTAMP",
    "SignatureError",
    "SigningClient",
    "canonical_request",
    "nonce_key",
    "sign",
    "verify_signed_request",
]

HEADER_CLIENT_ID = "X-Client-Id"
HEADER_TIMESTAMP = "X-Timestamp"
HEADER_NONCE = "X-Nonce"
HEADER_SIGNATURE = "X-Signature"
_HEADERS = (HEADER_CLIENT_ID, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE)

_CLIENT_ID_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# Eleven digits outlast any plausible clock; no leading zeros, so the header text and the integer agree.
_TIMESTAMP_RE = re.compile(r"0|[1-9][0-9]{0,10}")
_NONCE_RE = re.compile(r"[A-Za-z0-9_-]{16,128}")
_SIGNATURE_RE = re.compile(r"[0-9a-f]{64}")
_METHOD_RE = re.compile(r"[A-Z]{1,16}")
# A request target is printable ASCII; excluding whitespace also keeps the newline-separated canonical
# form unambiguous.
_PATH_RE = re.compile(r"/[!-~]*")

# Clients are allowed one or two secrets, but the work done is always that of two, so timing reveals
# neither how many secrets a client has nor (with the dummy secrets) whether the client exists.
_SECRET_SLOTS = 2
_DUMMY_SECRETS = tuple(secrets_module.token_hex(32) for _ in range(_SECRET_SLOTS))


class SignatureError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SigningClient:
    """A registered caller. Two secrets let the operator rotate: add the new one, move the client, drop the old."""

    client_id: str
    secrets: tuple[str, ...]

    def __post_init__(self) -> None:
        if not _CLIENT_ID_RE.fullmatch(self.client_id):
            raise ValueError("client_id must be 1..64 characters of [A-Za-z0-9_.-]")
        if not 1 <= len(self.secrets) <= _SECRET_SLOTS:
            raise ValueError("a client has one or two secrets")
        if any(not isinstance(secret, str) or len(secret) < 32 for secret in self.secrets):
            raise ValueError("each secret must be a string of at least 32 characters")


def canonical_request(method: str, path: str, timestamp: int, nonce: str, body: bytes) -> bytes:
    """``METHOD\\nPATH_WITH_QUERY\\nTIMESTAMP\\nNONCE\\nSHA256_HEX(BODY)`` as UTF-8 (in practice ASCII)."""
    method = method.upper()
    if not _METHOD_RE.fullmatch(method):
        raise ValueError("method must be letters only")
    if not _PATH_RE.fullmatch(path):
        raise ValueError("path must start with '/' and be printable ASCII without spaces")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or timestamp < 0:
        raise ValueError("timestamp must be a non-negative integer")
    if not _NONCE_RE.fullmatch(nonce):
        raise ValueError("nonce must be 16..128 characters of [A-Za-z0-9_-]")
    body_hash = hashlib.sha256(body).hexdigest()
    return f"{method}\n{path}\n{timestamp}\n{nonce}\n{body_hash}".encode()


def sign(secret: str, method: str, path: str, timestamp: int, nonce: str, body: bytes) -> str:
    canonical = canonical_request(method, path, timestamp, nonce, body)
    return hmac.new(secret.encode("utf-8"), canonical, hashlib.sha256).hexdigest()


def nonce_key(client_id: str, nonce: str) -> str:
    return f"signed-call-nonce:{client_id}:{nonce}"


async def verify_signed_request(
    *,
    headers: Mapping[str, str],
    method: str,
    path: str,
    body: bytes,
    clients: Mapping[str, SigningClient],
    clock: Clock,
    claim_nonce: Callable[[str, int], Awaitable[bool]],
    window: int = 300,
) -> str:
    """Return the verified client id or raise ``SignatureError``.

    ``path`` must be the request target exactly as received, query string included (aiohttp:
    ``request.raw_path``), and ``body`` the raw bytes. ``claim_nonce(key, ttl)`` is an atomic
    set-if-absent returning False when the key already exists; it is called only after the signature
    matched, so forged requests cannot use up a client's nonces. The TTL (twice the window) outlives
    every timestamp that could still be accepted with that nonce.
    """
    if window <= 0:
        raise ValueError("window must be positive")
    values = _signing_headers(headers)
    client_id = values[HEADER_CLIENT_ID]
    timestamp_text = values[HEADER_TIMESTAMP]
    nonce = values[HEADER_NONCE]
    signature = values[HEADER_SIGNATURE]
    if not _CLIENT_ID_RE.fullmatch(client_id):
        raise SignatureError("malformed client id")
    if not _TIMESTAMP_RE.fullmatch(timestamp_text):
        raise SignatureError("malformed timestamp")
    if not _NONCE_RE.fullmatch(nonce):
        raise SignatureError("malformed nonce")
    if not _SIGNATURE_RE.fullmatch(signature):
        raise SignatureError("malformed signature")
    if not _METHOD_RE.fullmatch(method.upper()) or not _PATH_RE.fullmatch(path):
        raise SignatureError("method or path unusable for signing")

    client = clients.get(client_id)
    timestamp = int(timestamp_text)
    # Checked before any HMAC work for known and unknown clients alike, so a stale request costs the same
    # either way and its timing does not reveal whether the client exists.
    if abs(clock.time() - timestamp) > window:
        raise SignatureError("unknown client" if client is None else "timestamp outside window")

    candidates = _padded_secrets(client.secrets if client is not None else ())
    canonical = canonical_request(method, path, timestamp, nonce, body)
    provided = signature.encode("ascii")
    matched = False
    for secret in candidates:
        expected = hmac.new(secret.encode("utf-8"), canonical, hashlib.sha256).hexdigest().encode("ascii")
        # `|` rather than `or`: every slot is compared, so timing does not say which secret matched.
        matched = hmac.compare_digest(expected, provided) | matched
    if client is None:
        raise SignatureError("unknown client")
    if not matched:
        raise SignatureError("signature mismatch")

    if not await claim_nonce(nonce_key(client_id, nonce), 2 * window):
        raise SignatureError("nonce already used")
    return client_id


def _padded_secrets(real: tuple[str, ...]) -> tuple[str, ...]:
    return real + _DUMMY_SECRETS[len(real) :]


def _signing_headers(headers: Mapping[str, str]) -> dict[str, str]:
    # Looked up case-insensitively by hand: a plain dict is not, and iterating items() also sees every
    # copy of a header repeated in a multidict, which is refused as ambiguous.
    wanted = {name.lower(): name for name in _HEADERS}
    found: dict[str, str] = {}
    for name, value in headers.items():
        canonical_name = wanted.get(name.lower())
        if canonical_name is None:
            continue
        if canonical_name in found:
            raise SignatureError(f"repeated {canonical_name} header")
        found[canonical_name] = value
    for name in _HEADERS:
        if name not in found:
            raise SignatureError(f"missing {name} header")
    return found
