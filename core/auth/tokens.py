"""Signed access tokens (JWT) and opaque refresh tokens.

The rules enforced here are written up in ``docs/tokens.md``. The short version:
one pinned algorithm per codec, keys chosen only by our own ``kid`` list, every
registered claim required, expiry judged by the injected clock, and an explicit
token type in both the header and the payload so that no other JWT we sign can
pass for an access token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Literal, TypeAlias

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jwt import exceptions as jwt_errors

from core.auth.errors import InvalidTokenError
from core.clock import Clock

__all__ = [
    "MAX_TOKEN_LENGTH",
    "REFRESH_TOKEN_PREFIX",
    "Algorithm",
    "Claims",
    "Ed25519Key",
    "EncodedToken",
    "HmacKey",
    "InvalidTokenError",
    "JwtCodec",
    "TokenType",
    "generate_ed25519_key",
    "hash_refresh_token",
    "load_ed25519_private_pem",
    "load_ed25519_public_pem",
    "new_refresh_token",
    "refresh_token_matches",
]

Algorithm: TypeAlias = Literal["HS256", "EdDSA"]

# Real tokens are a few hundred bytes; the cap stops oversized input before any
# base64 or JSON work is spent on it.
MAX_TOKEN_LENGTH = 8 * 1024
# Tolerated clock skew for "issued at" beyond the configured leeway: our own
# servers may disagree by a few seconds, but never by minutes.
_IAT_FUTURE_TOLERANCE = 60.0
_MIN_HMAC_SECRET_BYTES = 32
_JTI_BYTES = 16

TOKEN_TYPE_CLAIM = "token_type"  # noqa: S105 - a claim name, not a secret
SESSION_ID_CLAIM = "sid"
_REGISTERED_CLAIMS = frozenset({"iss", "aud", "sub", "iat", "exp", "nbf", "jti", TOKEN_TYPE_CLAIM})
# Header parameters that would let the token itself say where to find its key
# or which extensions must be understood; we never emit them, so their presence
# can only mean an attempt to steer verification.
_FORBIDDEN_HEADERS = frozenset({"jku", "jwk", "x5u", "x5c", "crit", "b64"})
_KID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")

REFRESH_TOKEN_PREFIX = "rt_"  # noqa: S105 - a public marker, not a secret


class TokenType(StrEnum):
    ACCESS = "access"
    LINK = "link"


def _header_typ(token_type: TokenType) -> str:
    # RFC 9068 names the media type for access tokens; the others follow the
    # same "<name>+jwt" pattern so each type has its own distinct value.
    if token_type is TokenType.ACCESS:
        return "at+jwt"
    return f"{token_type.value}+jwt"


def _normalise_typ(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    # RFC 7515 §4.1.9: media types compare case-insensitively and the
    # "application/" prefix may be left out.
    lowered = value.lower()
    return lowered.removeprefix("application/")


def _check_kid(kid: object) -> None:
    if not isinstance(kid, str) or _KID_PATTERN.fullmatch(kid) is None:
        raise ValueError("kid must be 1-64 characters of A-Z, a-z, 0-9, '.', '_' or '-'")


def _pad(segment: str) -> str:
    return segment + "=" * (-len(segment) % 4)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


# eq=False on the key classes: equality would compare secrets with a
# non-constant-time ==, and nothing needs to compare keys anyway.
@dataclass(frozen=True, slots=True, eq=False)
class HmacKey:
    kid: str
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        _check_kid(self.kid)
        if not isinstance(self.secret, bytes):
            raise TypeError("secret must be bytes")
        if len(self.secret) < _MIN_HMAC_SECRET_BYTES:
            # RFC 7518 §3.2: an HS256 key must be at least as long as the hash output.
            raise ValueError(f"HMAC secret must be at least {_MIN_HMAC_SECRET_BYTES} bytes")


@dataclass(frozen=True, slots=True, eq=False)
class Ed25519Key:
    kid: str
    private_key: Ed25519PrivateKey | None = field(repr=False)
    public_key: Ed25519PublicKey

    def __post_init__(self) -> None:
        _check_kid(self.kid)
        if not isinstance(self.public_key, Ed25519PublicKey):
            raise TypeError("public_key must be an Ed25519PublicKey")
        if self.private_key is not None:
            if not isinstance(self.private_key, Ed25519PrivateKey):
                raise TypeError("private_key must be an Ed25519PrivateKey")
            derived = self.private_key.public_key().public_bytes_raw()
            if not hmac.compare_digest(derived, self.public_key.public_bytes_raw()):
                raise ValueError("public_key does not belong to private_key")

    @classmethod
    def from_private_key(cls, kid: str, private_key: Ed25519PrivateKey) -> Ed25519Key:
        return cls(kid=kid, private_key=private_key, public_key=private_key.public_key())

    def public_only(self) -> Ed25519Key:
        """The same key without its private half, e.g. to hand to a verifier."""
        return Ed25519Key(kid=self.kid, private_key=None, public_key=self.public_key)

    def public_jwk(self) -> dict[str, str]:
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": _b64url(self.public_key.public_bytes_raw()),
            "kid": self.kid,
            "alg": "EdDSA",
            "use": "sig",
        }

    def private_pem(self, password: bytes | None = None) -> bytes:
        if self.private_key is None:
            raise ValueError("this key has no private part")
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
        )
        return self.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)

    def public_pem(self) -> bytes:
        return self.public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


SigningKey: TypeAlias = HmacKey | Ed25519Key


def generate_ed25519_key(kid: str) -> Ed25519Key:
    return Ed25519Key.from_private_key(kid, Ed25519PrivateKey.generate())


def _pem_bytes(pem: bytes | str) -> bytes:
    return pem.encode("ascii") if isinstance(pem, str) else pem


def load_ed25519_private_pem(kid: str, pem: bytes | str, *, password: bytes | None = None) -> Ed25519Key:
    key = serialization.load_pem_private_key(_pem_bytes(pem), password=password)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("PEM does not hold an Ed25519 private key")
    return Ed25519Key.from_private_key(kid, key)


def load_ed25519_public_pem(kid: str, pem: bytes | str) -> Ed25519Key:
    key = serialization.load_pem_public_key(_pem_bytes(pem))
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("PEM does not hold an Ed25519 public key")
    return Ed25519Key(kid=kid, private_key=None, public_key=key)


@dataclass(frozen=True, slots=True)
class EncodedToken:
    # A bearer credential: kept out of repr so it does not end up in logs.
    token: str = field(repr=False)
    jti: str
    issued_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Claims:
    subject: str
    jti: str
    issued_at: datetime
    expires_at: datetime
    token_type: TokenType
    session_id: str | None
    raw: Mapping[str, Any] = field(repr=False)


def _numeric_date(payload: Mapping[str, Any], name: str) -> float:
    value = payload.get(name)
    # bool is an int subclass, and json.loads accepts NaN and Infinity; none of
    # these is a usable point in time.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidTokenError(f"bad_{name}")
    return float(value)


def _to_datetime(timestamp: float, name: str) -> datetime:
    try:
        return datetime.fromtimestamp(timestamp, UTC)
    except (OverflowError, ValueError, OSError):
        raise InvalidTokenError(f"bad_{name}") from None


class JwtCodec:
    """Issues and checks JWTs for one issuer/audience pair with one pinned algorithm."""

    def __init__(
        self,
        *,
        algorithm: Algorithm,
        signing_key: SigningKey,
        verification_keys: Sequence[SigningKey] = (),
        issuer: str,
        audience: str,
        clock: Clock,
        leeway: float = 0,
    ) -> None:
        key_class: type[HmacKey] | type[Ed25519Key]
        if algorithm == "HS256":
            key_class = HmacKey
        elif algorithm == "EdDSA":
            key_class = Ed25519Key
        else:
            raise ValueError(f"unsupported algorithm {algorithm!r}")
        # Mixing key kinds under one codec is how algorithm-confusion bugs start,
        # so every key must match the pinned algorithm.
        for key in (signing_key, *verification_keys):
            if not isinstance(key, key_class):
                raise TypeError(f"{algorithm} needs {key_class.__name__} keys, got {type(key).__name__}")
        if isinstance(signing_key, Ed25519Key) and signing_key.private_key is None:
            raise ValueError("the signing key needs its private part")
        keys: dict[str, SigningKey] = {}
        for key in (signing_key, *verification_keys):
            if key.kid in keys:
                raise ValueError(f"duplicate kid {key.kid!r}")
            keys[key.kid] = key
        if not issuer or not audience:
            raise ValueError("issuer and audience must be non-empty")
        if not math.isfinite(leeway) or leeway < 0:
            raise ValueError("leeway must be a non-negative number of seconds")

        self._algorithm: Algorithm = algorithm
        self._signing_key = signing_key
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._clock = clock
        self._leeway = float(leeway)
        self._jwt = jwt.PyJWT()

    @property
    def algorithm(self) -> Algorithm:
        return self._algorithm

    def encode(
        self,
        claims: Mapping[str, Any],
        *,
        token_type: TokenType,
        ttl: timedelta,
        subject: str,
        jti: str | None = None,
    ) -> EncodedToken:
        token_type = TokenType(token_type)
        if not isinstance(subject, str) or not subject:
            raise ValueError("subject must be a non-empty string")
        lifetime = math.floor(ttl.total_seconds())
        if lifetime < 1:
            raise ValueError("ttl must be at least one second")
        clashing = _REGISTERED_CLAIMS.intersection(claims)
        if clashing:
            raise ValueError(f"claims may not set registered names: {sorted(clashing)}")
        if SESSION_ID_CLAIM in claims and not isinstance(claims[SESSION_ID_CLAIM], str):
            raise ValueError("sid must be a string")
        if jti is None:
            jti = secrets.token_urlsafe(_JTI_BYTES)
        elif not isinstance(jti, str) or not jti:
            raise ValueError("jti must be a non-empty string")

        # Whole seconds: NumericDate may be fractional, but integers are what
        # every other JWT library expects to see.
        issued = math.floor(self._clock.time())
        expires = issued + lifetime
        payload: dict[str, Any] = {
            **claims,
            "iss": self._issuer,
            "aud": self._audience,
            "sub": subject,
            "iat": issued,
            "exp": expires,
            "jti": jti,
            TOKEN_TYPE_CLAIM: token_type.value,
        }
        headers = {"kid": self._signing_key.kid, "typ": _header_typ(token_type)}
        token = self._jwt.encode(payload, self._signing_material(), algorithm=self._algorithm, headers=headers)
        if len(token) > MAX_TOKEN_LENGTH:
            raise ValueError("claims too large: the token would exceed MAX_TOKEN_LENGTH and be refused")
        return EncodedToken(
            token=token,
            jti=jti,
            issued_at=datetime.fromtimestamp(issued, UTC),
            expires_at=datetime.fromtimestamp(expires, UTC),
        )

    def decode(self, token: str, *, token_type: TokenType) -> Claims:
        token_type = TokenType(token_type)
        self._check_shape(token)
        key = self._select_key(self._check_unverified_header(token))
        header, payload = self._verify_signature_and_audience(token, key)
        return self._check_claims(header, payload, token_type)

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """Public keys for other verifiers; HMAC secrets are never published."""
        return {"keys": [key.public_jwk() for key in self._keys.values() if isinstance(key, Ed25519Key)]}

    def _signing_material(self) -> bytes | Ed25519PrivateKey:
        key = self._signing_key
        if isinstance(key, HmacKey):
            return key.secret
        assert key.private_key is not None  # checked in __init__
        return key.private_key

    @staticmethod
    def _check_shape(token: object) -> None:
        if not isinstance(token, str):
            raise InvalidTokenError("not_a_string")
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidTokenError("too_long")
        # Compact serialisation only, unpadded base64url (RFC 7515 §2). The
        # signature part may be empty here: an unsigned token is then refused by
        # the algorithm check, which names the real problem.
        if _COMPACT_JWS.fullmatch(token) is None:
            raise InvalidTokenError("malformed")

    def _check_unverified_header(self, token: str) -> dict[str, Any]:
        # Parsed here rather than with PyJWT's helper so that our own refusals
        # (notably "crit") are applied before PyJWT interprets anything. It is
        # the same json.loads on the same bytes, so both sides see one header.
        try:
            header = json.loads(base64.urlsafe_b64decode(_pad(token.partition(".")[0])))
        except (ValueError, RecursionError):
            raise InvalidTokenError("malformed_header") from None
        if not isinstance(header, dict):
            raise InvalidTokenError("malformed_header")
        alg = header.get("alg")
        # Exact, case-sensitive match against our own setting: the token never
        # gets a say in which algorithm is used (no "none", no HS/RS swap).
        if not isinstance(alg, str) or alg != self._algorithm:
            raise InvalidTokenError("alg_not_allowed")
        if _FORBIDDEN_HEADERS.intersection(header):
            raise InvalidTokenError("forbidden_header")
        return header

    def _select_key(self, header: Mapping[str, Any]) -> SigningKey:
        kid = header.get("kid")
        if kid is None:
            # Asymmetric tokens must name their key so rotation stays unambiguous;
            # for HMAC a missing kid can only mean the current secret.
            if self._algorithm == "EdDSA":
                raise InvalidTokenError("missing_kid")
            return self._signing_key
        if not isinstance(kid, str) or kid not in self._keys:
            raise InvalidTokenError("unknown_kid")
        return self._keys[kid]

    def _verify_signature_and_audience(self, token: str, key: SigningKey) -> tuple[dict[str, Any], dict[str, Any]]:
        material: bytes | Ed25519PublicKey = key.secret if isinstance(key, HmacKey) else key.public_key
        try:
            decoded = self._jwt.decode_complete(
                token,
                key=material,
                algorithms=[self._algorithm],
                audience=self._audience,
                issuer=self._issuer,
                options={
                    "verify_signature": True,
                    # Time is judged below against the injected clock, not the
                    # wall clock PyJWT would use.
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                    "verify_iss": True,
                    "verify_aud": True,
                    "strict_aud": True,
                    "verify_sub": True,
                    "verify_jti": True,
                    "require": ["iss", "aud", "sub", "iat", "exp", "jti", TOKEN_TYPE_CLAIM],
                },
            )
        except jwt_errors.InvalidSignatureError:
            raise InvalidTokenError("bad_signature") from None
        except jwt_errors.InvalidAlgorithmError:
            raise InvalidTokenError("alg_not_allowed") from None
        except jwt_errors.MissingRequiredClaimError as exc:
            raise InvalidTokenError(f"missing_{exc.claim}") from None
        except jwt_errors.InvalidAudienceError:
            raise InvalidTokenError("wrong_audience") from None
        except jwt_errors.InvalidIssuerError:
            raise InvalidTokenError("wrong_issuer") from None
        except jwt_errors.InvalidSubjectError:
            raise InvalidTokenError("bad_sub") from None
        except jwt_errors.InvalidJTIError:
            raise InvalidTokenError("bad_jti") from None
        except jwt_errors.PyJWTError:
            raise InvalidTokenError("malformed") from None
        header: dict[str, Any] = decoded["header"]
        payload: dict[str, Any] = decoded["payload"]
        return header, payload

    def _check_claims(self, header: Mapping[str, Any], payload: dict[str, Any], token_type: TokenType) -> Claims:
        subject = payload["sub"]
        jti = payload["jti"]
        if not isinstance(subject, str) or not subject:
            raise InvalidTokenError("bad_sub")
        if not isinstance(jti, str) or not jti:
            raise InvalidTokenError("bad_jti")

        expires = _numeric_date(payload, "exp")
        issued = _numeric_date(payload, "iat")
        now = self._clock.time()
        # Valid strictly before exp: at the exact second of exp it is already dead.
        if not now < expires + self._leeway:
            raise InvalidTokenError("expired")
        if issued > now + self._leeway + _IAT_FUTURE_TOLERANCE:
            raise InvalidTokenError("issued_in_future")
        if "nbf" in payload and now + self._leeway < _numeric_date(payload, "nbf"):
            raise InvalidTokenError("not_yet_valid")

        # Both markers must agree: the header alone could be copied by another
        # issuer sharing our key, the claim alone is invisible to generic tooling.
        if _normalise_typ(header.get("typ")) != _header_typ(token_type):
            raise InvalidTokenError("wrong_token_type")
        if payload[TOKEN_TYPE_CLAIM] != token_type.value:
            raise InvalidTokenError("wrong_token_type")

        session_id = payload.get(SESSION_ID_CLAIM)
        if session_id is not None and not isinstance(session_id, str):
            raise InvalidTokenError("bad_sid")

        return Claims(
            subject=subject,
            jti=jti,
            issued_at=_to_datetime(issued, "iat"),
            expires_at=_to_datetime(expires, "exp"),
            token_type=token_type,
            session_id=session_id,
            raw=MappingProxyType(payload),
        )


def new_refresh_token() -> tuple[str, str]:
    """Return ``(token, hash)``: the token goes to the client, only the hash is stored.

    The prefix lets secret scanners and humans recognise a leaked token.
    """
    token = REFRESH_TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, hash_refresh_token(token)


def hash_refresh_token(token: str) -> str:
    """SHA-256 hex of the token.

    A fast hash is enough because the token carries 256 random bits, so there is
    nothing to brute-force; and being deterministic it can be looked up by index.
    """
    # surrogatepass: a client may send any string, and hashing must not raise on it.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def refresh_token_matches(token: str, expected_hash: str) -> bool:
    return hmac.compare_digest(
        hash_refresh_token(token).encode("ascii"), expected_hash.encode("utf-8", "surrogatepass")
    )
