"""The Telegram identity both sign-in paths (Mini App initData, Login Widget) produce, and their shared rules.

Failure statuses, so the HTTP face can map them without knowing why a check failed:

* 422 (``STATUS_MALFORMED``): the input is shaped so that no genuine Telegram payload could ever look like
  it (bad syntax, duplicate or unknown fields, a hash that is not 64 hex digits, a non-numeric
  ``auth_date``, a ``user`` that is not a JSON object, a user id outside 1..2^53, oversized input, ...).
  Retrying with the same input can never succeed, whatever the key or the clock.
* 401 (``STATUS_REJECTED``): well-formed, but not proven authentic or not fresh (HMAC or Ed25519 mismatch,
  required signature missing, ``auth_date`` too old or too far in the future).

Structure is checked before authenticity, so a 422 says nothing about the bot token. ``reason`` is for
logs only; the HTTP layer should not echo it to the client.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from core.clock import Clock

STATUS_REJECTED = 401
STATUS_MALFORMED = 422

# Telegram promises at most 52 significant bits; 2^53 is the largest integer a JavaScript client
# (and a float column) still holds exactly.
MAX_USER_ID = 2**53

_HASH_RE = re.compile(r"[0-9a-fA-F]{64}")
# Ten digits reach the year 2286; anything longer is not a Telegram timestamp and would overflow datetime.
_UNIX_SECONDS_RE = re.compile(r"0|[1-9][0-9]{0,9}")
_USER_ID_RE = re.compile(r"[1-9][0-9]{0,15}")


class TelegramAuthError(Exception):
    """Sign-in data refused. ``status`` is 401 or 422 (see the module docstring); ``reason`` is for logs."""

    def __init__(self, reason: str, status: int = STATUS_REJECTED) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status

    @classmethod
    def malformed(cls, reason: str) -> TelegramAuthError:
        return cls(reason, STATUS_MALFORMED)

    @classmethod
    def rejected(cls, reason: str) -> TelegramAuthError:
        return cls(reason, STATUS_REJECTED)


@dataclass(frozen=True, slots=True)
class TelegramUser:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_premium: bool = False
    photo_url: str | None = None


def check_hash_format(value: str) -> str:
    """Return the hash in lower case; either case is accepted, so the caller must compare the lowered form."""
    if not _HASH_RE.fullmatch(value):
        raise TelegramAuthError.malformed("hash is not 64 hex digits")
    return value.lower()


def parse_unix_seconds(value: str, field: str = "auth_date") -> int:
    if not _UNIX_SECONDS_RE.fullmatch(value):
        raise TelegramAuthError.malformed(f"{field} is not a base-10 unix timestamp")
    return int(value)


def parse_user_id(value: str) -> int:
    """The decimal form the Login Widget sends; initData carries the id inside JSON and uses ``check_user_id``."""
    if not _USER_ID_RE.fullmatch(value):
        raise TelegramAuthError.malformed("id is not a positive base-10 integer")
    return check_user_id(int(value))


def check_user_id(value: object) -> int:
    # bool is an int subclass; `true` must not become user 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise TelegramAuthError.malformed("user id is not an integer")
    if not 1 <= value <= MAX_USER_ID:
        raise TelegramAuthError.malformed("user id outside 1..2^53")
    return value


def check_freshness(auth_date: int, *, clock: Clock, max_age: float, future_skew: float) -> datetime:
    """Refuse old data (replay window) and data dated ahead of our clock beyond the allowed skew."""
    now = clock.time()
    if now - auth_date > max_age:
        raise TelegramAuthError.rejected("auth_date too old")
    if auth_date - now > future_skew:
        raise TelegramAuthError.rejected("auth_date in the future")
    return datetime.fromtimestamp(auth_date, UTC)


def has_control_characters(value: str) -> bool:
    # A newline inside a value could pass for a field boundary in the newline-joined data-check-string,
    # letting one signed payload be re-split into different fields; Telegram never sends control characters.
    return any(ch < " " or ch == "\x7f" for ch in value)
