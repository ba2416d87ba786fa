"""Login Widget sign-in: verify the fields Telegram's website widget hands to our callback.

Key = SHA-256(bot token) (raw digest), unlike initData's HMAC("WebAppData", token), so data minted for one
path never verifies on the other. aiogram's ``check_signature`` compares digests with ``==``; the
comparison here is ``hmac.compare_digest``.

The caller passes the fields exactly as received (the redirect query string or the JS callback object with
every value turned into a string) and must itself refuse duplicate query keys, which a Mapping cannot hold.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from core.clock import Clock
from core.telegram.user_data import (
    TelegramAuthError,
    TelegramUser,
    check_freshness,
    check_hash_format,
    has_control_characters,
    parse_unix_seconds,
    parse_user_id,
)

__all__ = ["LOGIN_WIDGET_FIELDS", "sign_login_widget", "validate_login_widget"]

LOGIN_WIDGET_FIELDS = frozenset({"id", "first_name", "last_name", "username", "photo_url", "auth_date", "hash"})
_REQUIRED = ("id", "first_name", "auth_date", "hash")
# Bounds the HMAC input an anonymous caller can make us process; real values are a few hundred bytes.
_MAX_VALUE_LENGTH = 2048


def validate_login_widget(
    fields: Mapping[str, str],
    *,
    bot_token: str,
    clock: Clock,
    max_age: float = 86400,
    future_skew: float = 60,
) -> TelegramUser:
    """Return the verified user, or raise ``TelegramAuthError`` (422 malformed, 401 not authentic/fresh)."""
    if not bot_token:
        raise ValueError("bot_token is empty")
    checked = _check_structure(fields)
    hash_hex = check_hash_format(checked.pop("hash"))
    user_id = parse_user_id(checked["id"])
    auth_date = parse_unix_seconds(checked["auth_date"])

    expected = _digest(checked, bot_token)
    if not hmac.compare_digest(expected.encode("ascii"), hash_hex.encode("ascii")):
        raise TelegramAuthError.rejected("login widget hash mismatch")

    check_freshness(auth_date, clock=clock, max_age=max_age, future_skew=future_skew)
    return TelegramUser(
        id=user_id,
        first_name=checked["first_name"],
        last_name=checked.get("last_name"),
        username=checked.get("username"),
        language_code=None,
        is_premium=False,
        photo_url=checked.get("photo_url"),
    )


def sign_login_widget(fields: Mapping[str, str], bot_token: str) -> dict[str, str]:
    """Return ``fields`` plus the ``hash`` Telegram would add; for tests and the local Telegram stand-in."""
    if "hash" in fields:
        raise ValueError("hash is computed here, not passed in")
    return {**fields, "hash": _digest(fields, bot_token)}


def _digest(fields: Mapping[str, str], bot_token: str) -> str:
    secret = hashlib.sha256(bot_token.encode("utf-8")).digest()
    data_check_string = "\n".join(f"{key}={fields[key]}" for key in sorted(fields))
    return hmac.new(secret, data_check_string.encode("utf-8"), hashlib.sha256).hexdigest()


def _check_structure(fields: Mapping[str, str]) -> dict[str, str]:
    if not isinstance(fields, Mapping):
        raise TelegramAuthError.malformed("login widget data is not a mapping")
    checked: dict[str, str] = {}
    for key, value in fields.items():
        # Unknown fields are refused rather than merely hashed: they would make initData and other
        # payloads look like widget data, and Telegram's widget sends only the documented ones.
        if key not in LOGIN_WIDGET_FIELDS:
            raise TelegramAuthError.malformed("unexpected login widget field")
        if not isinstance(value, str):
            raise TelegramAuthError.malformed("login widget value is not a string")
        if not value:
            raise TelegramAuthError.malformed("blank login widget field")
        if len(value) > _MAX_VALUE_LENGTH:
            raise TelegramAuthError.malformed("login widget value too long")
        if has_control_characters(value):
            raise TelegramAuthError.malformed("control character in login widget field")
        checked[key] = value
    for key in _REQUIRED:
        if key not in checked:
            raise TelegramAuthError.malformed(f"login widget field {key} missing")
    return checked
