"""The JWT codec from its key configuration: one pinned algorithm, its signing key, the older keys accepted."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from core.auth.tokens import Ed25519Key, HmacKey, JwtCodec, load_ed25519_private_pem, load_ed25519_public_pem
from core.clock import Clock

log = logging.getLogger(__name__)

LOCAL_SECRET_FILE = "jwt-secret.local"  # noqa: S105 - a file name


def local_secret(data_dir: Path) -> bytes:
    """Local mode needs no configuration, yet tokens should survive a restart: keep a generated secret."""
    path = data_dir / LOCAL_SECRET_FILE
    if path.exists():
        value = path.read_bytes().strip()
        if len(value) >= 32:
            return value
    value = secrets.token_urlsafe(48).encode()
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(value)
    log.info("generated a local JWT secret", extra={"path": str(path)})
    return value


@dataclass(frozen=True, slots=True)
class KeyConfig:
    """The token keys as the composition root read them: one pinned algorithm and the keys it uses."""

    algorithm: Literal["HS256", "EdDSA"]
    issuer: str
    audience: str
    hs256_secret: bytes | None = None
    hs256_kid: str = "hs1"
    ed25519_private_pem: str | None = None
    ed25519_kid: str = "ed1"
    # (kid, public PEM) of older EdDSA keys that still verify tokens during a rotation.
    ed25519_previous: tuple[tuple[str, str], ...] = ()

    def signing_material(self) -> bytes:
        if self.algorithm == "EdDSA":
            if self.ed25519_private_pem is None:
                raise ValueError("EdDSA needs a private key")
            return self.ed25519_private_pem.encode()
        if self.hs256_secret is None:
            raise ValueError("HS256 needs a secret")
        return self.hs256_secret


def derived_key(keys: KeyConfig, purpose: str) -> bytes:
    """A server-side key for `purpose`, derived from the token-signing secret that every replica already shares, so
    no extra secret has to be configured. Rotating the signing key changes it too: fine for short-lived uses."""
    return hmac.new(keys.signing_material(), f"unibot-derived-key:{purpose}".encode(), hashlib.sha256).digest()


def create_codec(keys: KeyConfig, clock: Clock) -> JwtCodec:
    if keys.algorithm == "EdDSA":
        signing: Ed25519Key | HmacKey = load_ed25519_private_pem(keys.ed25519_kid, keys.signing_material().decode())
        previous: list[Ed25519Key | HmacKey] = [load_ed25519_public_pem(kid, pem) for kid, pem in keys.ed25519_previous]
        return JwtCodec(
            algorithm="EdDSA",
            signing_key=signing,
            verification_keys=previous,
            issuer=keys.issuer,
            audience=keys.audience,
            clock=clock,
        )
    return JwtCodec(
        algorithm="HS256",
        signing_key=HmacKey(keys.hs256_kid, keys.signing_material()),
        issuer=keys.issuer,
        audience=keys.audience,
        clock=clock,
    )
