"""Phone numbers and recipients as people type them, turned into the forms the port takes."""

from __future__ import annotations

import re

from core.errors import ValidationFailed
from core.profiles.port import Recipient, mask_phone

__all__ = ["mask_phone", "normalize_phone", "parse_recipient"]

# E.164 allows at most 15 digits; the shortest real numbers with their country code have 7 or 8.
_PHONE_DIGITS = re.compile(r"[1-9]\d{6,14}")
_PHONE_SEPARATORS = re.compile(r"[\s().-]")
# Telegram usernames: 5-32 characters, a letter first; some old or collectible ones are 4 characters long.
_USERNAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{3,31}")
# Marked ids are below 2^63 in magnitude (channels: -100 followed by the channel id).
_MAX_ID = 2**63 - 1


def normalize_phone(raw: str) -> str:
    """E.164 digits without the plus: "+7 (912) 345-67-89" -> "79123456789"."""
    value = _PHONE_SEPARATORS.sub("", raw.strip())
    if value.startswith("+"):
        value = value[1:]
    elif value.startswith("00"):
        value = value[2:]
    if not value.isascii() or _PHONE_DIGITS.fullmatch(value) is None:
        raise ValidationFailed("phone_invalid", "Give the phone number in international format, e.g. +44 20 7946 0958")
    return value


def parse_recipient(raw: str | int) -> Recipient:
    """A marked numeric id, or a username with or without "@" (returned as "@name")."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        if raw != 0 and abs(raw) <= _MAX_ID:
            return raw
    elif isinstance(raw, str):
        value = raw.strip()
        number = value[1:] if value.startswith("-") else value
        if number.isascii() and number.isdigit():
            return parse_recipient(int(value))
        name = value.removeprefix("@")
        if _USERNAME.fullmatch(name) is not None:
            return "@" + name
    raise ValidationFailed("recipient_invalid", "Give the recipient as a numeric id or a @username")
