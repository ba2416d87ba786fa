"""Cooldowns per (user, action), stored in the database so that they survive a restart.

`CooldownService.require_free` is the one guard both faces call before an action that has a cooldown. A REST
handler calls it first (or its service does, as the daily claim does), and the route wrapper turns its
`CooldownActive` (a 429 with the seconds left) into the JSON error shape with Retry-After; a bot handler is flagged
`flags={"cooldown": "<action>"}` and `bot/middlewares/cooldown.py` calls it before the handler, answering in the
person's language.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from core.container import UnitOfWork
from core.errors import TooManyRequests
from storage.repositories.rewards import CooldownRepository

COOLDOWN_ACTIVE = "cooldown_active"
# Actions are short names stored with the cooldown (the column holds 32 characters).
MAX_ACTION_CHARS = 32


class CooldownActive(TooManyRequests):
    """The action may not be repeated yet; ``until`` is when it may, ``retry_after`` the whole seconds left."""

    def __init__(self, action: str, until: datetime, retry_after: int, *, code: str = COOLDOWN_ACTIVE) -> None:
        super().__init__(code, f"'{action}' is on cooldown for {retry_after} more seconds", retry_after=retry_after)
        self.action = action
        self.until = until


@dataclass(frozen=True, slots=True)
class CooldownDTO:
    command: str
    cooldown_timestamp: datetime
    remaining_seconds: int


def seconds_left(until: datetime, now: datetime) -> int:
    """Whole seconds until ``until``, rounded up so that a caller waiting that long finds the action free."""
    return max(1, math.ceil((until - now).total_seconds()))


class CooldownService:
    def __init__(self, uow: UnitOfWork) -> None:
        self._repo = CooldownRepository(uow.session)
        self._clock = uow.clock

    async def active(self, user_id: int) -> list[CooldownDTO]:
        now = self._clock.now()
        return [
            CooldownDTO(
                command=row.action, cooldown_timestamp=row.until, remaining_seconds=seconds_left(row.until, now)
            )
            for row in await self._repo.active(user_id, now)
        ]

    async def require_free(self, user_id: int, action: str) -> None:
        """The guard: CooldownActive when the user's cooldown on ``action`` has not ended."""
        now = self._clock.now()
        until = await self._repo.until(user_id, action, now)
        if until is not None:
            raise CooldownActive(action, until, seconds_left(until, now))

    async def start(self, user_id: int, action: str, until: datetime) -> datetime:
        """Make the cooldown last at least until ``until`` (never shortened); returns when it ends."""
        if not action or len(action) > MAX_ACTION_CHARS:
            raise ValueError(f"a cooldown action has 1-{MAX_ACTION_CHARS} characters")
        return await self._repo.set_or_extend(user_id, action, until)

    async def carry_over(self, from_user_id: int, to_user_id: int) -> None:
        """Give ``to_user_id`` every cooldown ``from_user_id`` still has (account linking)."""
        for row in await self._repo.active(from_user_id, self._clock.now()):
            await self._repo.set_or_extend(to_user_id, row.action, row.until)

    async def purge_expired_batch(self, batch: int) -> int:
        return await self._repo.purge_expired(self._clock.now(), batch)
