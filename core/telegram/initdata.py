"""Mini App sign-in: verify the ``initData`` query string Telegram hands to a Web App.

The raw string is parsed here, strictly, before any cryptography: the HMAC is then checked by aiogram's
helper on a canonical re-encoding of exactly the fields this module returns, so what is verified and what
is trusted can never drift apart (aiogram's own parser is lenient: it keeps the last of duplicate keys,
drops blank values and replaces undecodable bytes).

Data-check-string (both for the bot-token HMAC and, with a prefix, for Ed25519): ``key=value`` lines of
the decoded fields sorted by key and joined with ``\\n``. The HMAC covers every field except ``hash`` --
including ``signature`` when present, as aiogram and Telegram's documentation do; the Ed25519 message
leaves out both ``hash`` and ``signature``. Field names are limited to ``[a-z_]``, which keeps "sorted by
key" and "sorted by line" identical (they differ only when a key continues with a character sorting
below ``=``), so the result does not depend on which reading of Telegram's "sorted alphabetically" a
signer used.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote_plus

from aiogram.utils import web_app_signature as aiogram_ed25519
from aiogram.utils.web_app import check_webapp_signature as aiogram_check_hmac
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from core.clock import Clock
from core.telegram.user_data import (
    TelegramAuthError,
    TelegramUser,
    check_freshness,
    check_hash_format,
    check_user_id,
    has_control_characters,
    parse_unix_seconds,
)

__all__ = [
    "MAX_INIT_DATA_LENGTH",
    "TELEGRAM_ED25519_PRODUCTION_KEY",
    "TELEGRAM_ED25519_TEST_KEY",
    "Ed25519Check",
    "WebAppAuth",
    "ed25519_public_key_hex",
    "init_data_user_json",
    "sign_init_data",
    "sign_init_data_ed25519",
    "validate_init_data",
]

# Real initData is well under 2 KiB; the cap bounds the parsing and JSON work an anonymous caller can cause.
MAX_INIT_DATA_LENGTH = 8 * 1024

# Telegram's keys for third-party validation; which one applies is a settings decision (production vs the
# test data centre), so both live here as plain constants.
TELEGRAM_ED25519_PRODUCTION_KEY = "e7bf03a2fa4602af4580703d88dda5bb59f32ed8b02a56c187fe7d34caed242d"
TELEGRAM_ED25519_TEST_KEY = "40055058a4ee38156a06562e52eece92a771bcd8346a8c4615cb7376eddf72ec"

# Telegram percent-encodes everything else, so a space, a non-ASCII character or a control character in
# the raw string means it was not produced by a Telegram client.
_RAW_RE = re.compile(r"[!-~]+")
_STRAY_PERCENT_RE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_FIELD_NAME_RE = re.compile(r"[a-z_]{1,64}")
_HEX_KEY_RE = re.compile(r"[0-9a-fA-F]{64}")
# 64 signature bytes are 86 unpadded base64url characters.
_SIGNATURE_RE = re.compile(r"[A-Za-z0-9_-]{86}")
_WEB_APP_DATA = b"WebAppData"


@dataclass(frozen=True, slots=True)
class Ed25519Check:
    """Also require Telegram's Ed25519 ``signature`` (third-party validation) to match.

    With ``required`` False, data without a ``signature`` (older clients) still passes on the HMAC alone,
    but a present signature must verify.
    """

    bot_id: int
    public_key_hex: str
    required: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.bot_id, bool) or not isinstance(self.bot_id, int) or self.bot_id <= 0:
            raise ValueError("bot_id must be a positive integer")
        if not _HEX_KEY_RE.fullmatch(self.public_key_hex):
            raise ValueError("public_key_hex must be 64 hex digits (a raw Ed25519 public key)")

    @property
    def public_key(self) -> bytes:
        return bytes.fromhex(self.public_key_hex)


@dataclass(frozen=True, slots=True)
class WebAppAuth:
    user: TelegramUser
    auth_date: datetime
    start_param: str | None
    query_id: str | None
    chat_type: str | None
    chat_instance: str | None
    # sha256 of the lower-cased hash: one value per signed payload, whatever the hash's letter case, so a
    # caller can refuse replays with a set-if-absent in a key-value store without storing the hash itself.
    fingerprint: str


def validate_init_data(
    raw: str,
    *,
    bot_token: str,
    clock: Clock,
    max_age: float = 86400,
    future_skew: float = 60,
    ed25519: Ed25519Check | None = None,
) -> WebAppAuth:
    """Return the verified sign-in, or raise ``TelegramAuthError`` (422 malformed, 401 not authentic/fresh)."""
    if not bot_token:
        raise ValueError("bot_token is empty")
    if not isinstance(raw, str):
        raise TelegramAuthError.malformed("initData is not text")
    if len(raw) > MAX_INIT_DATA_LENGTH:
        raise TelegramAuthError.malformed("initData too long")

    fields = _parse_query(raw)
    if "hash" not in fields:
        raise TelegramAuthError.malformed("hash missing")
    hash_hex = check_hash_format(fields.pop("hash"))
    if "auth_date" not in fields:
        raise TelegramAuthError.malformed("auth_date missing")
    auth_date = parse_unix_seconds(fields["auth_date"])
    user = _parse_user(fields.get("user"))
    signature = fields.get("signature")
    if ed25519 is not None and signature is not None:
        _check_signature_format(signature)

    canonical = _encode_query([*_sorted_pairs(fields), ("hash", hash_hex)])
    if not aiogram_check_hmac(bot_token, canonical):
        raise TelegramAuthError.rejected("initData hash mismatch")
    if ed25519 is not None:
        _check_ed25519(canonical, signature, ed25519)

    auth_moment = check_freshness(auth_date, clock=clock, max_age=max_age, future_skew=future_skew)
    return WebAppAuth(
        user=user,
        auth_date=auth_moment,
        start_param=fields.get("start_param"),
        query_id=fields.get("query_id"),
        chat_type=fields.get("chat_type"),
        chat_instance=fields.get("chat_instance"),
        fingerprint=hashlib.sha256(hash_hex.encode("ascii")).hexdigest(),
    )


def sign_init_data(fields: Mapping[str, str], bot_token: str) -> str:
    """Build initData the way Telegram does, for the local Telegram stand-in and for tests.

    ``fields`` must hold ``auth_date`` and ``user`` (see ``init_data_user_json``) and not ``hash``.
    """
    if "hash" in fields:
        raise ValueError("hash is computed here, not passed in")
    pairs = _sorted_pairs(fields)
    secret = hmac.new(_WEB_APP_DATA, bot_token.encode("utf-8"), hashlib.sha256).digest()
    digest = hmac.new(secret, _data_check_string(pairs).encode("utf-8"), hashlib.sha256).hexdigest()
    return _encode_query([*pairs, ("hash", digest)])


def sign_init_data_ed25519(fields: Mapping[str, str], *, bot_token: str, bot_id: int, private_key: bytes) -> str:
    """Like ``sign_init_data`` but also adds a third-party ``signature`` made with a raw 32-byte Ed25519 key.

    Telegram's own private key is of course unavailable; tests use their own key and configure
    ``Ed25519Check`` with its public half (``ed25519_public_key_hex``).
    """
    if "hash" in fields or "signature" in fields:
        raise ValueError("hash and signature are computed here, not passed in")
    message = f"{bot_id}:WebAppData\n" + _data_check_string(_sorted_pairs(fields))
    raw_signature = Ed25519PrivateKey.from_private_bytes(private_key).sign(message.encode("utf-8"))
    signature = base64.urlsafe_b64encode(raw_signature).rstrip(b"=").decode("ascii")
    return sign_init_data({**fields, "signature": signature}, bot_token)


def ed25519_public_key_hex(private_key: bytes) -> str:
    return Ed25519PrivateKey.from_private_bytes(private_key).public_key().public_bytes_raw().hex()


def init_data_user_json(user: TelegramUser) -> str:
    """The ``user`` field value as a Telegram client serialises it: compact JSON, absent fields left out."""
    body: dict[str, Any] = {"id": user.id, "first_name": user.first_name}
    optional = {
        "last_name": user.last_name,
        "username": user.username,
        "language_code": user.language_code,
        "photo_url": user.photo_url,
    }
    body.update({key: value for key, value in optional.items() if value is not None})
    if user.is_premium:
        body["is_premium"] = True
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def _parse_query(raw: str) -> dict[str, str]:
    if not _RAW_RE.fullmatch(raw):
        raise TelegramAuthError.malformed("initData empty or has characters Telegram percent-encodes")
    fields: dict[str, str] = {}
    for segment in raw.split("&"):
        raw_key, sep, raw_value = segment.partition("=")
        if not sep:
            raise TelegramAuthError.malformed("initData segment without '='")
        key = _decode_component(raw_key)
        value = _decode_component(raw_value)
        if not _FIELD_NAME_RE.fullmatch(key):
            raise TelegramAuthError.malformed("initData field name outside [a-z_]")
        if key in fields:
            raise TelegramAuthError.malformed("duplicate initData field")
        # aiogram's check drops blank fields from the data-check-string, so an unsigned blank field could
        # ride along on a genuine payload; Telegram never sends one.
        if not value:
            raise TelegramAuthError.malformed("blank initData field")
        if has_control_characters(value):
            raise TelegramAuthError.malformed("control character in initData field")
        fields[key] = value
    return fields


def _decode_component(component: str) -> str:
    if _STRAY_PERCENT_RE.search(component):
        raise TelegramAuthError.malformed("broken percent-escape")
    try:
        return unquote_plus(component, encoding="utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise TelegramAuthError.malformed("percent-escapes are not UTF-8") from exc


def _encode_query(pairs: Iterable[tuple[str, str]]) -> str:
    # Encoding every reserved character (space as %20, never '+') makes the string decode back to exactly
    # these pairs under any standard query-string parser, aiogram's included.
    return "&".join(f"{quote(key, safe='')}={quote(value, safe='')}" for key, value in pairs)


def _sorted_pairs(fields: Mapping[str, str]) -> list[tuple[str, str]]:
    return sorted(fields.items())


def _data_check_string(pairs: Iterable[tuple[str, str]]) -> str:
    return "\n".join(f"{key}={value}" for key, value in pairs)


def _parse_user(value: str | None) -> TelegramUser:
    if value is None:
        raise TelegramAuthError.malformed("user missing")
    try:
        obj = json.loads(value, object_pairs_hook=_object_without_duplicates, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        # ValueError covers JSONDecodeError and Python's limit on the digits of an integer.
        raise TelegramAuthError.malformed("user is not JSON") from exc
    if not isinstance(obj, dict):
        raise TelegramAuthError.malformed("user is not a JSON object")
    if "id" not in obj:
        raise TelegramAuthError.malformed("user id missing")
    user_id = check_user_id(obj["id"])
    first_name = obj.get("first_name")
    if not isinstance(first_name, str):
        raise TelegramAuthError.malformed("user first_name missing or not a string")
    is_premium = obj.get("is_premium", False)
    if not isinstance(is_premium, bool):
        raise TelegramAuthError.malformed("user is_premium is not a boolean")
    return TelegramUser(
        id=user_id,
        first_name=first_name,
        last_name=_optional_string(obj, "last_name"),
        username=_optional_string(obj, "username"),
        language_code=_optional_string(obj, "language_code"),
        is_premium=is_premium,
        photo_url=_optional_string(obj, "photo_url"),
    )


def _optional_string(obj: Mapping[str, object], key: str) -> str | None:
    if key not in obj:
        return None
    value = obj[key]
    # Telegram leaves absent fields out; an explicit null is not something it sends.
    if not isinstance(value, str):
        raise TelegramAuthError.malformed(f"user {key} is not a string")
    return value


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise TelegramAuthError.malformed("duplicate key in user JSON")
    return result


def _reject_constant(name: str) -> Any:
    raise TelegramAuthError.malformed(f"non-finite number {name} in user JSON")


def _check_signature_format(signature: str) -> None:
    if not _SIGNATURE_RE.fullmatch(signature):
        raise TelegramAuthError.malformed("signature is not 86 base64url characters")
    try:
        decoded = base64.urlsafe_b64decode(signature + "==")
    except (binascii.Error, ValueError) as exc:
        raise TelegramAuthError.malformed("signature is not base64url") from exc
    # The last character carries 4 unused bits; only the canonical spelling is accepted.
    if base64.urlsafe_b64encode(decoded).rstrip(b"=").decode("ascii") != signature:
        raise TelegramAuthError.malformed("signature is not canonical base64url")


def _check_ed25519(canonical: str, signature: str | None, check: Ed25519Check) -> None:
    if signature is None:
        if check.required:
            raise TelegramAuthError.rejected("Ed25519 signature required but missing")
        return
    try:
        valid = aiogram_ed25519.check_webapp_signature(check.bot_id, canonical, check.public_key)
    except ValueError:
        # aiogram lets base64 padding errors escape; the format check above should make this unreachable.
        valid = False
    if not valid:
        raise TelegramAuthError.rejected("Ed25519 signature mismatch")
