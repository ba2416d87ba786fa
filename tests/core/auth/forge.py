"""Hand-built JWTs for attack tests.

Tokens are assembled byte by byte here rather than with PyJWT, because PyJWT
refuses to produce several of the malformed or hostile shapes we need.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from typing import Any

from core.auth.tokens import Ed25519Key, HmacKey

Signer = Callable[[bytes], bytes]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def forge(header: Mapping[str, Any], payload: Mapping[str, Any] | bytes, signer: Signer | None) -> str:
    header_part = b64url(json.dumps(header, separators=(",", ":")).encode())
    body = payload if isinstance(payload, bytes) else json.dumps(payload, separators=(",", ":")).encode()
    signing_input = f"{header_part}.{b64url(body)}"
    signature = b64url(signer(signing_input.encode("ascii"))) if signer else ""
    return f"{signing_input}.{signature}"


def hmac_signer(secret: bytes, digest: str = "sha256") -> Signer:
    return lambda message: hmac.new(secret, message, getattr(hashlib, digest)).digest()


def signer_for(key: HmacKey | Ed25519Key) -> Signer:
    if isinstance(key, HmacKey):
        return hmac_signer(key.secret)
    private = key.private_key
    assert private is not None
    return private.sign


def split(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")
    parsed_header: dict[str, Any] = json.loads(b64url_decode(header))
    parsed_payload: dict[str, Any] = json.loads(b64url_decode(payload))
    return parsed_header, parsed_payload, signature
