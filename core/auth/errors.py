"""Exceptions raised by the identity primitives.

They carry a machine-readable code or reason so that the web and bot layers can
map them to their own responses without parsing messages.
"""

from __future__ import annotations

__all__ = ["AuthError", "InvalidTokenError", "PasswordPolicyError"]


class AuthError(Exception):
    """Base class, so callers can catch every identity-layer failure in one place."""


class PasswordPolicyError(AuthError):
    """A candidate password was refused by the policy.

    ``code`` is stable and meant for translation lookups; ``message`` is English
    and meant for logs or as a fallback text.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class InvalidTokenError(AuthError):
    """A token was refused.

    ``reason`` says which check failed. It is for logs only: clients must get one
    undifferentiated answer so that they cannot probe the checks one by one.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(f"invalid token: {reason}")
        self.reason = reason
