"""Proof that a person controls an EVM address.

The server issues a one-time message worded as EIP-4361 (Sign-In with Ethereum) for one subject (the product
user asking) and one address; the wallet signs it with EIP-191 ``personal_sign``; the server recovers the signer
from the signature and accepts only when the signer is the claimed address and the message is, byte for byte, one
it issued to that subject, unexpired and not used before. Each issued message is remembered by a fingerprint of
(subject, text) under its nonce, and a successful proof consumes the nonce, so a signed message cannot be replayed
nor carried over to another account.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_keys.exceptions import BadSignature
from eth_utils.exceptions import ValidationError as EthValidationError

from core.clock import Clock
from core.errors import DomainError, ValidationFailed
from core.wallet.evm import InvalidAddress, checksum_address
from storage.kv import KeyValueStore

__all__ = [
    "MAX_MESSAGE_CHARS",
    "Challenge",
    "KeyValueNonceStore",
    "NonceStore",
    "OwnershipProof",
    "ProofConfig",
    "ProofRefused",
    "SiweMessage",
]

# Far above the messages issued here; anything longer is refused before it is hashed or recovered.
MAX_MESSAGE_CHARS = 2048
_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_HEADER_SUFFIX = " wants you to sign in with your Ethereum account:"
_SIGNATURE = re.compile(r"0x[0-9a-fA-F]{130}")
_DOMAIN = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?")
_NONCE = re.compile(r"[A-Za-z0-9]{8,64}")
_CHAIN_ID = re.compile(r"[1-9][0-9]{0,18}")
_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
# Everything eth-account raises for 65 bytes that are not a recoverable signature.
_RECOVERY_ERRORS = (BadSignature, EthValidationError, ValueError)


class ProofRefused(DomainError):
    """An ownership proof was not accepted; ``reason`` says which check failed (safe to show and to log)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"wallet_proof_{reason}", message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ProofConfig:
    """What the issued messages say: the site asking (RFC 3986 authority and URI), the statement and the lifetime."""

    domain: str
    uri: str
    statement: str = "Link this address to your account."
    # Ethereum mainnet and Base: the networks the product records addresses for.
    chain_ids: frozenset[int] = frozenset({1, 8453})
    ttl_seconds: int = 600

    def __post_init__(self) -> None:
        if not _DOMAIN.fullmatch(self.domain):
            raise ValueError("wallet proof domain must be a host name with an optional port")
        if not self.uri or any(char.isspace() for char in self.uri) or ":" not in self.uri:
            raise ValueError("wallet proof uri must be an absolute URI without spaces")
        if not self.statement or any(char in self.statement for char in "\r\n"):
            raise ValueError("wallet proof statement must be one non-empty line")
        if not self.chain_ids or any(chain_id <= 0 for chain_id in self.chain_ids):
            raise ValueError("wallet proof chain ids must be positive")
        if self.ttl_seconds <= 0:
            raise ValueError("wallet proof ttl must be positive")


@dataclass(frozen=True, slots=True)
class SiweMessage:
    """The subset of EIP-4361 issued here: a statement, version 1, an issue and an expiration time, no resources."""

    domain: str
    address: str
    statement: str
    uri: str
    chain_id: int
    nonce: str
    issued_at: datetime
    expiration_time: datetime
    version: str = "1"

    def text(self) -> str:
        return "\n".join(
            [
                self.domain + _HEADER_SUFFIX,
                self.address,
                "",
                self.statement,
                "",
                f"URI: {self.uri}",
                f"Version: {self.version}",
                f"Chain ID: {self.chain_id}",
                f"Nonce: {self.nonce}",
                f"Issued At: {self.issued_at.strftime(_TIMESTAMP_FORMAT)}",
                f"Expiration Time: {self.expiration_time.strftime(_TIMESTAMP_FORMAT)}",
            ]
        )

    @classmethod
    def parse(cls, text: str) -> SiweMessage:
        """Read a message in exactly the layout ``text()`` writes; ValueError for anything else."""
        if len(text) > MAX_MESSAGE_CHARS:
            raise ValueError("message too long")
        lines = text.split("\n")
        if len(lines) != 11 or lines[2] != "" or lines[4] != "":
            raise ValueError("message layout")
        header, address, _, statement, _, *fields = lines
        if not header.endswith(_HEADER_SUFFIX):
            raise ValueError("message header")
        domain = header[: -len(_HEADER_SUFFIX)]
        if not _DOMAIN.fullmatch(domain):
            raise ValueError("message domain")
        values = []
        for line, label in zip(
            fields, ("URI", "Version", "Chain ID", "Nonce", "Issued At", "Expiration Time"), strict=True
        ):
            prefix = f"{label}: "
            if not line.startswith(prefix):
                raise ValueError(f"message field {label}")
            values.append(line[len(prefix) :])
        uri, version, chain_id, nonce, issued_at, expiration_time = values
        if version != "1" or not _CHAIN_ID.fullmatch(chain_id) or not _NONCE.fullmatch(nonce):
            raise ValueError("message version, chain id or nonce")
        try:
            checksummed = checksum_address(address)
        except InvalidAddress:
            raise ValueError("message address") from None
        message = cls(
            domain=domain,
            address=checksummed,
            statement=statement,
            uri=uri,
            chain_id=int(chain_id),
            nonce=nonce,
            issued_at=_parse_timestamp(issued_at),
            expiration_time=_parse_timestamp(expiration_time),
        )
        # Writing it back must give the same text: one spelling per message, so fingerprints compare reliably.
        if message.text() != text:
            raise ValueError("message not in canonical form")
        return message


def _parse_timestamp(value: str) -> datetime:
    if not _TIMESTAMP.fullmatch(value):
        raise ValueError("timestamp")
    return datetime.strptime(value, _TIMESTAMP_FORMAT).replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Challenge:
    """An issued message, for the person to sign with the wallet that holds ``address``."""

    message: str
    address: str
    chain_id: int
    expires_at: datetime


class NonceStore(Protocol):
    """One-time nonces with an expiry, each remembered with the fingerprint of what it was issued for."""

    async def issue(self, nonce: str, fingerprint: bytes, *, ttl: float) -> bool:
        """Remember a fresh nonce for ``ttl`` seconds; False when the nonce is already taken."""
        ...

    async def consume(self, nonce: str, fingerprint: bytes) -> bool:
        """Forget the nonce and return True, once, when it is live and was issued with this fingerprint.

        A fingerprint that does not match leaves the nonce in place; of several concurrent consumers of one
        nonce, exactly one gets True.
        """
        ...


class KeyValueNonceStore:
    """Nonces in the app's key-value store, shared by every replica when that store is Redis."""

    def __init__(self, kv: KeyValueStore, *, prefix: str = "wallet:nonce:") -> None:
        self.kv = kv
        self.prefix = prefix

    def _key(self, nonce: str) -> str:
        # Keyed by a hash, so a reader of the store cannot lift a live nonce from the key names.
        return self.prefix + hashlib.sha256(nonce.encode()).hexdigest()

    async def issue(self, nonce: str, fingerprint: bytes, *, ttl: float) -> bool:
        return await self.kv.set_if_absent(self._key(nonce), fingerprint, ttl=ttl)

    async def consume(self, nonce: str, fingerprint: bytes) -> bool:
        key = self._key(nonce)
        stored = await self.kv.get(key)
        if stored is None or not hmac.compare_digest(stored, fingerprint):
            return False
        # Concurrent consumers may all have read the record; only the one whose delete removed it wins.
        return await self.kv.delete(key) == 1


def _fingerprint(subject: str, message: str) -> bytes:
    # Length-prefixed, so no (subject, message) pair can be re-split into another with the same bytes.
    encoded = subject.encode()
    return hashlib.sha256(len(encoded).to_bytes(4, "big") + encoded + message.encode()).digest()


class OwnershipProof:
    """Issues challenges and checks signed ones. ``subject`` is the caller's stable name for the person asking."""

    def __init__(self, config: ProofConfig, nonces: NonceStore, clock: Clock) -> None:
        self.config = config
        self.nonces = nonces
        self.clock = clock

    async def challenge(self, subject: str, address: str, *, chain_id: int) -> Challenge:
        """A fresh message for ``address`` on ``chain_id``; InvalidAddress or ValidationFailed for bad input."""
        checksummed = checksum_address(address)
        if chain_id not in self.config.chain_ids:
            raise ValidationFailed("wallet_chain_unsupported", f"Chain {chain_id} is not supported.")
        issued_at = self.clock.now().astimezone(UTC).replace(microsecond=0)
        expires_at = issued_at + timedelta(seconds=self.config.ttl_seconds)
        for _ in range(3):
            message = SiweMessage(
                domain=self.config.domain,
                address=checksummed,
                statement=self.config.statement,
                uri=self.config.uri,
                chain_id=chain_id,
                nonce=secrets.token_hex(16),
                issued_at=issued_at,
                expiration_time=expires_at,
            )
            text = message.text()
            # The store may keep a record a little longer than the message lives; expiry is judged on the text.
            if await self.nonces.issue(message.nonce, _fingerprint(subject, text), ttl=self.config.ttl_seconds + 5):
                return Challenge(message=text, address=checksummed, chain_id=chain_id, expires_at=expires_at)
        raise RuntimeError("could not allocate a wallet proof nonce")

    async def verify(self, subject: str, address: str, message: str, signature: str) -> str:
        """The checksummed address once the proof holds; ProofRefused (or InvalidAddress) otherwise.

        A refusal for a bad signature, a wrong address or an expired message leaves the nonce unused, so the
        person can sign again; only an accepted proof consumes it.
        """
        claimed = checksum_address(address)
        try:
            parsed = SiweMessage.parse(message)
        except ValueError:
            raise ProofRefused("malformed", "The signed message is not one this service issues.") from None
        if parsed.address != claimed:
            raise ProofRefused("address_mismatch", "The signed message is for another address.")
        if parsed.domain != self.config.domain or parsed.uri != self.config.uri:
            raise ProofRefused("not_issued", "The signed message was not issued by this service.")
        if self.clock.now() >= parsed.expiration_time:
            raise ProofRefused("expired", "The message to sign has expired; ask for a new one.")
        signer = _recover(message, signature)
        if signer is None:
            raise ProofRefused("signature_invalid", "The signature is not a valid Ethereum signature.")
        if signer != claimed:
            raise ProofRefused("signature_mismatch", "The message was signed by another address.")
        if not await self.nonces.consume(parsed.nonce, _fingerprint(subject, message)):
            raise ProofRefused("not_issued", "The signed message was not issued to you or has already been used.")
        return claimed


def _recover(message: str, signature: str) -> str | None:
    """The EIP-191 signer of ``message``, or None unless ``signature`` is 0x and 65 recoverable bytes in hex."""
    if not _SIGNATURE.fullmatch(signature):
        return None
    raw = bytes.fromhex(signature[2:])
    # eth-account would also read EIP-155 transaction values (35 and up) here; a message signature has none.
    if raw[64] not in (0, 1, 27, 28):
        return None
    try:
        return str(Account.recover_message(encode_defunct(text=message), signature=raw))
    except _RECOVERY_ERRORS:
        return None
