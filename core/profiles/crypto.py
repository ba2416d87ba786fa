"""Encryption of profile secrets at rest (session text, pending-login state) with AES-256-GCM and a key ring.

A sealed value is `version (1 byte) | key id length (1 byte) | key id | nonce (12 bytes) | ciphertext and tag`.
The key id says which key of the ring opens it, so keys can be rotated while old rows are still readable. The
associated data binds each value to where it is stored (`context(purpose, *parts)`, e.g. the owner and the phone
of a profile): a value copied into another row, or used for another purpose, does not open.

Keys come from configuration as `kid1:base64key,kid2:base64key`; the current key (the one new values are sealed
with) is named separately or is the first. No error message ever contains key material.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import struct
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.errors import DomainError

KEY_BYTES = 32
NONCE_BYTES = 12
_VERSION = 1
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
# Separates this scheme's associated data from any other use of the same keys.
_DOMAIN = b"unibot.profiles.sealed.v1\x00"


class KeyRingError(ValueError):
    """The key configuration is unusable. The message names the entry, never its key."""


class SecretUnreadable(DomainError):
    """A sealed value cannot be opened: the key is not in the ring, or the value or its context does not match.

    It is the server's fault (lost key, corrupted or moved row), hence 500; `reason` says which, for the logs.
    """

    status_hint = 500

    def __init__(self, reason: str, message: str) -> None:
        super().__init__("profile_secret_unreadable", message)
        self.reason = reason


def context(purpose: str, *parts: str | int) -> bytes:
    """Associated data naming where a value lives; each part is length-prefixed so ("ab", "c") != ("a", "bc")."""
    encoded = b""
    for part in (purpose, *parts):
        raw = str(part).encode()
        encoded += struct.pack(">I", len(raw)) + raw
    return encoded


def generate_key() -> str:
    """A new random 256-bit key in the form the configuration takes."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


class KeyRing:
    def __init__(self, keys: Mapping[str, bytes], current: str) -> None:
        if not keys:
            raise KeyRingError("the key ring is empty")
        for key_id, key in keys.items():
            if _KEY_ID.fullmatch(key_id) is None:
                raise KeyRingError("key ids are 1-32 letters, digits, '-' or '_'")
            if len(key) != KEY_BYTES:
                raise KeyRingError(f"key {key_id!r} is {len(key)} bytes long; keys are {KEY_BYTES} bytes (256 bits)")
        if current not in keys:
            raise KeyRingError(f"the current key id {current!r} is not in the key ring")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._current = current

    def __repr__(self) -> str:
        return f"KeyRing(current={self._current!r}, key_ids={sorted(self._ciphers)!r})"

    @classmethod
    def parse(cls, spec: str, current: str | None = None) -> KeyRing:
        """Read `kid1:base64key,kid2:base64key` (standard or URL-safe base64, padding optional)."""
        keys: dict[str, bytes] = {}
        entries = [entry.strip() for entry in spec.split(",") if entry.strip()]
        if not entries:
            raise KeyRingError("no keys given; expected 'key_id:base64key[,key_id:base64key...]'")
        for position, entry in enumerate(entries, start=1):
            key_id, separator, encoded = entry.partition(":")
            key_id = key_id.strip()
            if not separator or _KEY_ID.fullmatch(key_id) is None:
                raise KeyRingError(
                    f"entry {position} is not 'key_id:base64key' (key ids are 1-32 letters, digits, '-' or '_')"
                )
            if key_id in keys:
                raise KeyRingError(f"key id {key_id!r} appears twice")
            keys[key_id] = _decode_key(key_id, encoded.strip())
        chosen = entries[0].partition(":")[0].strip() if current is None or not current.strip() else current.strip()
        return cls(keys, chosen)

    @property
    def current_id(self) -> str:
        return self._current

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._ciphers)

    def seal(self, plaintext: bytes, associated: bytes) -> bytes:
        header = _header(self._current)
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self._current].encrypt(nonce, plaintext, _DOMAIN + header + associated)
        return header + nonce + sealed

    def open(self, value: bytes, associated: bytes) -> bytes:
        key_id, header_length = _parse_header(value)
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise SecretUnreadable("unknown_key", f"The value was sealed with key {key_id!r}, which is not configured")
        nonce = value[header_length : header_length + NONCE_BYTES]
        try:
            return cipher.decrypt(
                nonce, value[header_length + NONCE_BYTES :], _DOMAIN + value[:header_length] + associated
            )
        except InvalidTag:
            raise SecretUnreadable(
                "mismatch",
                f"The value does not open with key {key_id!r}: altered, moved from another row, or a wrong key",
            ) from None

    def needs_rotation(self, value: bytes) -> bool:
        return key_id_of(value) != self._current

    def rotate(self, value: bytes, associated: bytes) -> bytes:
        """The value sealed again under the current key; a value already under it is returned as it is."""
        if not self.needs_rotation(value):
            return value
        return self.seal(self.open(value, associated), associated)


def key_id_of(value: bytes) -> str:
    """Which key sealed a value, read from its header without opening it."""
    return _parse_header(value)[0]


def _header(key_id: str) -> bytes:
    raw = key_id.encode()
    return bytes((_VERSION, len(raw))) + raw


def _parse_header(value: bytes) -> tuple[str, int]:
    if len(value) < 2 or value[0] != _VERSION:
        raise SecretUnreadable("malformed", "The value is not a sealed secret of a known version")
    length = value[1]
    header_length = 2 + length
    # The tag alone is 16 bytes: anything shorter was cut.
    if length == 0 or len(value) < header_length + NONCE_BYTES + 16:
        raise SecretUnreadable("malformed", "The sealed value is truncated")
    key_id = value[2:header_length].decode("ascii", errors="replace")
    if _KEY_ID.fullmatch(key_id) is None:
        raise SecretUnreadable("malformed", "The sealed value has no valid key id")
    return key_id, header_length


def _decode_key(key_id: str, encoded: str) -> bytes:
    # One alphabet for both spellings of base64, and the padding people leave out.
    normalized = encoded.replace("-", "+").replace("_", "/")
    normalized += "=" * (-len(normalized) % 4)
    try:
        key = base64.b64decode(normalized, validate=True)
    except (binascii.Error, ValueError):
        raise KeyRingError(f"key {key_id!r} is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise KeyRingError(f"key {key_id!r} is {len(key)} bytes long; keys are {KEY_BYTES} bytes (256 bits)")
    return key
