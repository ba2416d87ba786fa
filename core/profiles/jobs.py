"""Scheduled work of the profiles feature."""

from __future__ import annotations

from core.container import Container
from core.profiles.service import ProfilesService

BATCH = 500


async def purge_expired_logins(container: Container) -> int:
    """Pending logins past their expiry (their sealed state holds a session key that can never be used)."""
    removed = 0
    while True:
        async with container.unit_of_work(write=True) as uow:
            batch = await ProfilesService(uow).purge_expired_pending(BATCH)
        removed += batch
        if batch < BATCH:
            return removed
