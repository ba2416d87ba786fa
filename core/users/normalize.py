"""Keys that make email addresses and usernames unique regardless of case."""

from __future__ import annotations

import re
import unicodedata

# Deliberately permissive: the only real check of an address is a message that reaches it.
EMAIL_PATTERN = r"^[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]{1,252}\.[^@\s\x00-\x1f\x7f.]{1,63}$"
_EMAIL = re.compile(EMAIL_PATTERN)
USERNAME_PATTERN = r"^[A-Za-z0-9_.-]{3,50}$"


def is_email(value: str) -> bool:
    return len(value) <= 320 and _EMAIL.fullmatch(value) is not None


def email_key(email: str) -> str:
    return unicodedata.normalize("NFKC", email.strip()).casefold()


def username_key(username: str) -> str:
    return username.strip().casefold()


def login_key(login: str) -> str:
    """A login name is an email address or a username; both keys share one casefolding."""
    return email_key(login) if "@" in login else username_key(login)
