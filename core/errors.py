"""Domain errors. Each carries a stable machine code; the faces translate them into HTTP statuses or chat text."""

from __future__ import annotations

from typing import Self


class DomainError(Exception):
    status_hint = 400
    # When true, the unit of work commits what was written before raising this (a failed attempt counted).
    keeps_writes = False

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def keeping_writes(self) -> Self:
        """Mark this refusal as one whose writes stand: the unit of work commits them, then raises it."""
        self.keeps_writes = True
        return self


class ValidationFailed(DomainError):
    status_hint = 422


class NotFound(DomainError):
    status_hint = 404


class Conflict(DomainError):
    status_hint = 409


class Unauthorized(DomainError):
    status_hint = 401


class Forbidden(DomainError):
    status_hint = 403


class Unavailable(DomainError):
    """Not now, through no fault of the caller: the same call may succeed after `retry_after` seconds."""

    status_hint = 503

    def __init__(self, code: str, message: str, *, retry_after: int) -> None:
        super().__init__(code, message)
        self.retry_after = retry_after


class TooManyRequests(DomainError):
    status_hint = 429

    def __init__(self, code: str, message: str, *, retry_after: int) -> None:
        super().__init__(code, message)
        self.retry_after = retry_after
