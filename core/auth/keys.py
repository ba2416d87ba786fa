"""The JWT codec from settings: one pinned algorithm, its signing key, and the older keys still accepted."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

from core.auth.tokens import Ed25519Key, HmacKey, JwtCodec, load_ed25519_private_pem, load_ed25519_public_pem
from core.clock import Clock
from core.settings import Mode, Settings

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


def _hs256_secret(settings: Settings) -> bytes:
    if settings.auth.jwt_secret is not None:
        return settings.auth.jwt_secret.get_secret_value().encode()
    if settings.mode is Mode.LOCAL:
        return local_secret(settings.app.data_dir)
    # Settings validation refuses this combination.
    raise ValueError("auth.jwt_secret is required outside local mode")  # pragma: no cover


def derived_key(settings: Settings, purpose: str) -> bytes:
    """A server-side key for `purpose`, derived from the token-signing secret that every replica already shares, so
    no extra secret has to be configured. Rotating the signing key changes it too: fine for short-lived uses."""
    auth = settings.auth
    if auth.algorithm == "EdDSA":
        assert auth.ed25519_private_key is not None  # settings refuse EdDSA without one
        material = auth.ed25519_private_key.get_secret_value().encode()
    else:
        material = _hs256_secret(settings)
    return hmac.new(material, f"unibot-derived-key:{purpose}".encode(), hashlib.sha256).digest()


def create_codec(settings: Settings, clock: Clock) -> JwtCodec:
    auth = settings.auth
    if auth.algorithm == "EdDSA":
        assert auth.ed25519_private_key is not None  # settings refuse EdDSA without one
        signing: Ed25519Key | HmacKey = load_ed25519_private_pem(
            auth.ed25519_kid, auth.ed25519_private_key.get_secret_value()
        )
        previous: list[Ed25519Key | HmacKey] = [
            load_ed25519_public_pem(kid, pem)
            for kid, pem in zip(auth.ed25519_previous_kids, auth.ed25519_previous_public_keys, strict=True)
        ]
        return JwtCodec(
            algorithm="EdDSA",
            signing_key=signing,
            verification_keys=previous,
            issuer=auth.issuer,
            audience=auth.audience,
            clock=clock,
        )
    return JwtCodec(
        algorithm="HS256",
        signing_key=HmacKey(auth.jwt_kid, _hs256_secret(settings)),
        issuer=auth.issuer,
        audience=auth.audience,
        clock=clock,
    )
